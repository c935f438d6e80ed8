/*
 * Stand-in for src/omv/ports/stm32/stm32.ld.S: the memory lines take their
 * sizes from omv_boardconfig.h, as upstream's do.
 */
#include "omv_boardconfig.h"

MEMORY
{
  FLASH_TEXT (rx)   : ORIGIN = OMV_FLASH_TXT_ORIGIN,  LENGTH = OMV_FLASH_TXT_LENGTH
}
