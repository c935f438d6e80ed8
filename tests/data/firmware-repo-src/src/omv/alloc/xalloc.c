#include "omv_boardconfig.h"
#include "omv_common.h"

int main(void)
{
    return OMV_XALLOC_MAGIC;
}
