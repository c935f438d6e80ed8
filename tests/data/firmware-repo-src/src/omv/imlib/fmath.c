#include "omv_boardconfig.h"

int fast_roundf(int x)
{
    int y = x * 3;

    return y + 1;
}
