/* The tiny test firmware for QEMU's mps2-an500 (Cortex-M7) and mps3-an547 (Cortex-M55):
 * a vector table, a polled driver for the board's CMSDK APB UART0, a banner, an echo loop,
 * a global counter incremented by tick() (a place for a debugger to break), and a
 * semihosting exit when Ctrl-D (0x04) arrives. Built by build.sh with arm-none-eabi-gcc. */
#include <stdint.h>

#ifndef FW_MACHINE
#error "build.sh defines FW_MACHINE and UART0_BASE"
#endif

/* CMSDK APB UART registers (ARM DDI 0479, "APB UART"). */
#define UART_DATA         (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE        (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL         (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV      (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u
#define UART_CTRL_TXEN    0x1u
#define UART_CTRL_RXEN    0x2u

#define KEY_EXIT  0x04 /* Ctrl-D: leave QEMU through semihosting */
#define KEY_COUNT 0x14 /* Ctrl-T: print the counter */

/* Read by debuggers: how many times tick() ran. */
volatile uint32_t tick_count;

extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start, __bss_end;

void reset_handler(void);
void fault_handler(void);
int main(void);

__attribute__((noinline)) void tick(void)
{
    tick_count++;
}

static void uart_init(void)
{
    UART_BAUDDIV = 16;
    UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;
}

static void uart_putc(char c)
{
    while (UART_STATE & UART_STATE_TXFULL) {
    }
    UART_DATA = (uint32_t)(unsigned char)c;
}

static void uart_puts(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            uart_putc('\r');
        uart_putc(*s);
    }
}

static void uart_putu(uint32_t v)
{
    char buf[11];
    int i = (int)sizeof buf - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v && i > 0);
    uart_puts(&buf[i]);
}

/* SYS_EXIT with ADP_Stopped_ApplicationExit: QEMU (-semihosting) exits with status 0. */
static void semihosting_exit(void)
{
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = 0x20026u;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

int main(void)
{
    uart_init();
    uart_puts("omvdev test firmware on " FW_MACHINE "\n");
    uart_puts("type to echo, Ctrl-T prints the counter, Ctrl-D exits\n> ");
    for (;;) {
        tick();
        if (!(UART_STATE & UART_STATE_RXFULL))
            continue;
        char c = (char)(UART_DATA & 0xffu);
        if (c == KEY_EXIT) {
            uart_puts("\nbye\n");
            semihosting_exit();
        } else if (c == KEY_COUNT) {
            uart_puts("\ntick_count=");
            uart_putu(tick_count);
            uart_puts("\n> ");
        } else if (c == '\r') {
            uart_puts("\n> ");
        } else {
            uart_putc(c);
        }
    }
}

void reset_handler(void)
{
    uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;)
        *dst++ = *src++;
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;)
        *dst++ = 0;
    main();
    semihosting_exit();
}

void fault_handler(void)
{
    uart_puts("\nfault\n");
    semihosting_exit();
}

/* Initial stack pointer, reset, then NMI..SysTick; every exception reports and exits. */
__attribute__((section(".vectors"), used)) static void *const vectors[16] = {
    &__stack_top,
    (void *)reset_handler,
    (void *)fault_handler,
    (void *)fault_handler,
    (void *)fault_handler,
    (void *)fault_handler,
    (void *)fault_handler,
    (void *)fault_handler,
    0,
    0,
    0,
    (void *)fault_handler,
    (void *)fault_handler,
    0,
    (void *)fault_handler,
    (void *)fault_handler,
};
