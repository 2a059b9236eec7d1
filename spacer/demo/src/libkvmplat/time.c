/* TSC frequency calibrated against PIT channel 2 (the speaker gate), a
 * CPUID leaf 0x15 shortcut, and delays and a monotonic clock from it. */
#include <uk_plat.h>
#include <io.h>

#define PIT_HZ 1193182UL
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61
#define CALIBRATE_MS 5
#define CALIBRATE_POLLS 10000000UL

static unsigned long tsc_hz, tsc_base;

unsigned long ukplat_rdtsc(void)
{
	unsigned int lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (unsigned long)hi << 32 | lo;
}

static unsigned long tsc_from_cpuid(void)
{
	unsigned int r[4];

	if (ukplat_cpu()->max_leaf < 0x15)
		return 0;
	cpuid(0x15, 0, r);
	if (!r[0] || !r[1] || !r[2])
		return 0;
	return (unsigned long)r[2] * r[1] / r[0];
}

/* One-shot countdown on channel 2; bit 5 of port 0x61 rises at zero. The
 * poll count bounds the loop when the PIT is not emulated. */
static unsigned long tsc_from_pit(void)
{
	unsigned long ticks = PIT_HZ * CALIBRATE_MS / 1000, t0, t1, polls = 0;
	unsigned char gate = inb(PIT_GATE);

	outb(PIT_GATE, (gate & ~0x02) | 0x01);
	outb(PIT_CMD, 0xb0);	/* channel 2, lobyte/hibyte, mode 0 */
	outb(PIT_CH2, (unsigned char)ticks);
	outb(PIT_CH2, (unsigned char)(ticks >> 8));
	t0 = ukplat_rdtsc();
	while (!(inb(PIT_GATE) & 0x20) && ++polls < CALIBRATE_POLLS)
		;
	t1 = ukplat_rdtsc();
	outb(PIT_GATE, gate);
	if (polls >= CALIBRATE_POLLS)
		return 0;
	return (t1 - t0) * (1000 / CALIBRATE_MS);
}

unsigned long ukplat_tsc_hz(void)
{
	if (!tsc_hz) {
		tsc_hz = tsc_from_cpuid();
		if (!tsc_hz)
			tsc_hz = tsc_from_pit();
		if (!tsc_hz)
			tsc_hz = 1000000000UL;	/* assume 1 GHz rather than divide by 0 */
		tsc_base = ukplat_rdtsc();
	}
	return tsc_hz;
}

/* ns = ticks * 1e9 / hz, split to avoid 64-bit overflow. */
unsigned long ukplat_monotonic_ns(void)
{
	unsigned long hz = ukplat_tsc_hz(), d = ukplat_rdtsc() - tsc_base;

	return d / hz * 1000000000UL + d % hz * 1000000000UL / hz;
}

void ukplat_udelay(unsigned long usec)
{
	unsigned long hz = ukplat_tsc_hz(), start = ukplat_rdtsc();
	unsigned long wait = usec / 1000000UL * hz + usec % 1000000UL * hz / 1000000UL;

	while (ukplat_rdtsc() - start < wait)
		__asm__ __volatile__("pause");
}
