/* The fixture's sensor driver: SENSOR_ID comes from the driver Makefile's -D. */
#ifndef SENSOR_H
#define SENSOR_H
int sensor_id(void);
#endif
