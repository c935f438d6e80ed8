#include "sensor.h"

int sensor_id(void)
{
    return SENSOR_ID;
}
