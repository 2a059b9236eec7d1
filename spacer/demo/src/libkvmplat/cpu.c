/* CPUID: vendor, brand, family/model, feature flags by name, address widths. */
#include <uk_plat.h>
#include <io.h>
#include <string.h>
#include <stdio.h>

/* Feature names per bit; "" for reserved bits. */
static const char feat_1_edx[32][8] = {
	"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce",
	"cx8", "apic", "", "sep", "mtrr", "pge", "mca", "cmov",
	"pat", "pse36", "psn", "clflush", "", "ds", "acpi", "mmx",
	"fxsr", "sse", "sse2", "ss", "htt", "tm", "ia64", "pbe",
};
static const char feat_1_ecx[32][12] = {
	"sse3", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est",
	"tm2", "ssse3", "cnxt_id", "sdbg", "fma", "cx16", "xtpr", "pdcm",
	"", "pcid", "dca", "sse4_1", "sse4_2", "x2apic", "movbe", "popcnt",
	"tsc_deadline", "aes", "xsave", "osxsave", "avx", "f16c", "rdrand", "hypervisor",
};
static const char feat_7_ebx[32][12] = {
	"fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", "fdp_excp", "smep",
	"bmi2", "erms", "invpcid", "rtm", "pqm", "fpu_csds", "mpx", "pqe",
	"avx512f", "avx512dq", "rdseed", "adx", "smap", "avx512ifma", "pcommit", "clflushopt",
	"clwb", "intel_pt", "avx512pf", "avx512er", "avx512cd", "sha_ni", "avx512bw", "avx512vl",
};
static const char feat_ext_edx[32][12] = {
	"", "", "", "", "", "", "", "",
	"", "", "", "syscall", "", "", "", "",
	"", "", "", "mp", "nx", "", "mmxext", "",
	"", "fxsr_opt", "pdpe1gb", "rdtscp", "", "lm", "3dnowext", "3dnow",
};

static struct ukplat_cpuinfo info;
static int probed;

static void probe(void)
{
	unsigned int r[4], i;

	cpuid(0, 0, r);
	info.max_leaf = r[0];
	memcpy(info.vendor, &r[1], 4);
	memcpy(info.vendor + 4, &r[3], 4);
	memcpy(info.vendor + 8, &r[2], 4);
	info.vendor[12] = '\0';
	if (info.max_leaf >= 1) {
		unsigned int fam, mod;

		cpuid(1, 0, r);
		fam = (r[0] >> 8) & 0xf;
		mod = (r[0] >> 4) & 0xf;
		if (fam == 0xf)
			fam += (r[0] >> 20) & 0xff;
		if (fam == 0x6 || fam >= 0xf)
			mod |= ((r[0] >> 16) & 0xf) << 4;
		info.family = fam;
		info.model = mod;
		info.stepping = r[0] & 0xf;
		info.cache_line = ((r[1] >> 8) & 0xff) * 8;
		info.features[0] = r[3];
		info.features[1] = r[2];
	}
	if (info.max_leaf >= 7) {
		cpuid(7, 0, r);
		info.features[2] = r[1];
	}
	cpuid(0x80000000, 0, r);
	info.max_ext_leaf = r[0];
	if (info.max_ext_leaf >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		info.features[3] = r[3];
	}
	if (info.max_ext_leaf >= 0x80000004) {
		for (i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, 0, r);
			memcpy(info.brand + 16 * i, r, 16);
		}
		info.brand[48] = '\0';
	} else {
		strcpy(info.brand, "unknown");
	}
	if (info.max_ext_leaf >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		info.phys_bits = r[0] & 0xff;
		info.virt_bits = (r[0] >> 8) & 0xff;
	} else {
		info.phys_bits = 36;
		info.virt_bits = 48;
	}
	probed = 1;
}

const struct ukplat_cpuinfo *ukplat_cpu(void)
{
	if (!probed)
		probe();
	return &info;
}

static const char *feature_name(int word, int bit)
{
	switch (word) {
	case 0:
		return feat_1_edx[bit];
	case 1:
		return feat_1_ecx[bit];
	case 2:
		return feat_7_ebx[bit];
	default:
		return feat_ext_edx[bit];
	}
}

int ukplat_cpu_has(const char *feature)
{
	int word, bit;

	ukplat_cpu();
	for (word = 0; word < 4; word++)
		for (bit = 0; bit < 32; bit++)
			if (!strcmp(feature_name(word, bit), feature))
				return (info.features[word] >> bit) & 1;
	return 0;
}

/* "vendor family/model/stepping: flag flag ...", truncated to size. */
int ukplat_cpu_features_str(char *buf, unsigned long size)
{
	unsigned long len;
	int word, bit;

	ukplat_cpu();
	len = (unsigned long)snprintf(buf, size, "%s %u/%u/%u:", info.vendor, info.family,
				      info.model, info.stepping);
	for (word = 0; word < 4; word++) {
		for (bit = 0; bit < 32; bit++) {
			const char *name = feature_name(word, bit);

			if (!*name || !((info.features[word] >> bit) & 1))
				continue;
			len += (unsigned long)snprintf(len < size ? buf + len : NULL,
						       len < size ? size - len : 0, " %s", name);
		}
	}
	return (int)len;
}
