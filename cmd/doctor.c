/*
 * omvdev doctor: one line per check of everything the firmware guide's
 * troubleshooting section lists (platform, WSL, USB passthrough, udev, SDK,
 * toolchain, J-Link, submodules, mpy-cross, disk space), each failure with
 * the command that fixes it. And omvdev udev install.
 *
 * Testing hook: $OMVDEV_SYSROOT is put in front of every /proc, /sys, /etc,
 * /run, /dev, /usr/lib and /opt path doctor and udev read or write, so tests
 * can fake WSL 1 and 2, a repository under /mnt/c, rules present or missing.
 * Programs (gcc, gdb, J-Link, udevadm) are found through $PATH as usual.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "flash/qemu.h"
#include "targets/repo.h"
#include "lib/embed.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/hostenv.h"
#include "lib/json.h"
#include "lib/proc.h"
#include "lib/strbuf.h"
#include "sdk/locate.h"
#include "sdk/sdk.h"
#include "targets/partitions.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

extern const struct embedded_file udev_templates[];
extern const size_t udev_templates_count;

#define UDEV_RULES_NAME "99-omvdev.rules"
/* The SDK unpacks to about 1.4 GB; the download needs room beside it. */
#define SDK_DISK_NEED (2ULL * 1024 * 1024 * 1024)

const struct opt doctor_opts[] = {
    {"quick", 0, OPT_FLAG, NULL, "skip 'omvdev sdk verify', which reads every file of the SDK",
     NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

const struct opt udev_opts[] = {
    {"print", 'p', OPT_FLAG, NULL, "print the rules and the sudo commands instead of installing",
     NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* The USB IDs the rules must open up: cameras, ST ROM DFU, Arduino, NXP ROM and flashloader. */
static const struct {
    uint16_t vid;
    int pid;
    const char *what;
} udev_ids[] = {
    {0x37c5, -1, "37C5 (OpenMV cameras and their bootloader)"},
    {0x0483, 0xdf11, "0483:DF11 (STM32 system bootloader)"},
    {0x2341, -1, "2341 (Arduino boards)"},
    {0x1fc9, 0x0135, "1FC9:0135 (i.MX RT1060 ROM)"},
    {0x15a2, 0x0073, "15A2:0073 (NXP flashloader)"},
};

enum check_status { CHECK_OK, CHECK_WARN, CHECK_FAIL, CHECK_SKIP };

static const char *const status_names[] = {"ok", "warn", "fail", "skip"};

struct check_result {
    enum check_status status;
    struct strbuf msg;
    struct strbuf fix;
};

struct doctor {
    struct omv_ctx *ctx;
    const char *sysroot; /* "" normally */
    struct bld b;
    bool have_repo;
    bool quick; /* --quick: no sdk verify */
    bool linux_host;
    int wsl;                /* 0, 1 or 2 */
    const struct target *t; /* [build] target, when set and known */
    struct strbuf path;     /* the PATH make would see */
};

static void set(struct check_result *r, enum check_status s, const char *fix, const char *fmt, ...)
    OMV_PRINTF(4, 5);

static void set(struct check_result *r, enum check_status s, const char *fix, const char *fmt, ...)
{
    va_list ap;

    r->status = s;
    va_start(ap, fmt);
    strbuf_vaddf(&r->msg, fmt, ap);
    va_end(ap);
    if (fix)
        strbuf_addstr(&r->fix, fix);
}

/* sysroot + path */
static const char *sys(const struct doctor *d, const char *path, struct strbuf *sb)
{
    strbuf_reset(sb);
    strbuf_addf(sb, "%s%s", d->sysroot, path);
    return sb->buf;
}

/* ---- the checks ------------------------------------------------------------------ */

static void check_platform(struct doctor *d, struct check_result *r)
{
    struct strbuf plat = STRBUF_INIT;
    char err[256];

    (void)d;
    if (sdk_host_platform(&plat, err, sizeof(err)) == 0)
        set(r, CHECK_OK, NULL, "%s: the OpenMV SDK is published for it", plat.buf);
    else
        set(r, CHECK_FAIL,
            "build on x86-64 Linux (or WSL 2) or on an arm64 Mac, or in the firmware's Docker "
            "image (docker/ in the repository)",
            "%s", err);
    strbuf_release(&plat);
}

static void check_wsl(struct doctor *d, struct check_result *r)
{
    if (!d->wsl)
        set(r, CHECK_SKIP, NULL, "not WSL");
    else if (d->wsl == 1)
        set(r, CHECK_FAIL,
            "in PowerShell on Windows: wsl --set-version <distribution> 2 (wsl -l -v lists them)",
            "WSL 1 is not supported: the SDK's tools and USB passthrough need WSL 2");
    else
        set(r, CHECK_OK, NULL, "WSL 2");
}

static void check_repo_location(struct doctor *d, struct check_result *r)
{
    struct strbuf mnt = STRBUF_INIT;
    const char *root;

    if (!d->have_repo) {
        set(r, CHECK_SKIP, NULL, "not inside a firmware repository");
        goto out;
    }
    root = d->b.tree.root;
    sys(d, "/mnt/", &mnt);
    if (d->wsl && !strncmp(root, mnt.buf, mnt.len) && isalpha((unsigned char)root[mnt.len]) &&
        (root[mnt.len + 1] == '/' || !root[mnt.len + 1])) {
        set(r, CHECK_WARN,
            "clone it into your Linux home instead: cd ~ && git clone --recursive "
            "https://github.com/openmv/openmv.git",
            "'%s' is on the Windows drive %c: builds there are many times slower and file "
            "permissions and line endings break",
            root, toupper((unsigned char)root[mnt.len]));
    } else {
        set(r, CHECK_OK, NULL, "%s", root);
    }
out:
    strbuf_release(&mnt);
}

/* USB devices (not hubs' interfaces, not root hubs) in sysfs. */
static size_t count_usb_devices(const struct doctor *d)
{
    struct strbuf dir = STRBUF_INIT;
    struct dirent *e;
    size_t n = 0;
    DIR *dp = opendir(sys(d, "/sys/bus/usb/devices", &dir));

    while (dp && (e = readdir(dp)))
        if (isdigit((unsigned char)e->d_name[0]) && !strchr(e->d_name, ':'))
            n++;
    if (dp)
        closedir(dp);
    strbuf_release(&dir);
    return n;
}

static void check_wsl_usb(struct doctor *d, struct check_result *r)
{
    struct strbuf fix = STRBUF_INIT;
    char app[16], dfu[16];
    size_t n;

    if (!d->wsl) {
        set(r, CHECK_SKIP, NULL, "not WSL");
        return;
    }
    n = count_usb_devices(d);
    if (n) {
        set(r, CHECK_OK, NULL, "%zu USB device%s attached to WSL", n, n == 1 ? "" : "s");
        return;
    }
    if (d->t && d->t->dfu_usb.vid)
        strbuf_addf(&fix, "for the camera (%s) and then its bootloader (%s)",
                    usb_id_str(d->t->app_usb, app, sizeof(app)),
                    usb_id_str(d->t->dfu_usb, dfu, sizeof(dfu)));
    else
        strbuf_addstr(&fix, "for the camera (37C5:12xx) and then its bootloader (37C5:92xx)");
    {
        struct strbuf all = STRBUF_INIT;

        strbuf_addf(&all,
                    "in an administrator PowerShell on Windows (usbipd-win), %s: usbipd list; "
                    "usbipd bind --busid <BUSID>; usbipd attach --wsl --busid <BUSID>",
                    fix.buf);
        set(r, CHECK_WARN, all.buf, "no USB device is attached to WSL: cameras are invisible");
        strbuf_release(&all);
    }
    strbuf_release(&fix);
}

static void check_udev_daemon(struct doctor *d, struct check_result *r)
{
    struct strbuf sb = STRBUF_INIT;

    if (!d->linux_host)
        set(r, CHECK_SKIP, NULL, "not Linux");
    else if (access(sys(d, "/run/udev/control", &sb), F_OK) == 0)
        set(r, CHECK_OK, NULL, "udev is running");
    else if (d->wsl)
        set(r, CHECK_WARN,
            "enable systemd in WSL: add \"[boot]\\nsystemd=true\" to /etc/wsl.conf, then run "
            "wsl --shutdown in PowerShell",
            "udev is not running (no /run/udev/control): device permissions are not applied");
    else
        set(r, CHECK_WARN, "sudo systemctl start systemd-udevd",
            "udev is not running (no /run/udev/control): device permissions are not applied");
    strbuf_release(&sb);
}

static void check_sdk_installed(struct doctor *d, struct check_result *r)
{
    if (!d->have_repo)
        set(r, CHECK_SKIP, NULL, "not inside a firmware repository: the SDK version is unknown");
    else if (d->b.no_version)
        set(r, CHECK_SKIP, NULL, "no SDK_VERSION: this release uses the toolchain on PATH");
    else if (!fs_is_dir(d->b.sdk_dir.buf))
        set(r, CHECK_FAIL, "omvdev sdk install", "the OpenMV SDK %s is not installed in '%s'",
            d->b.version.buf, d->b.sdk_dir.buf);
    else
        set(r, CHECK_OK, NULL, "%s", d->b.sdk_dir.buf);
}

static void check_sdk_stamp(struct doctor *d, struct check_result *r)
{
    struct strbuf msg = STRBUF_INIT;

    if (!d->have_repo || d->b.no_version || !fs_is_dir(d->b.sdk_dir.buf)) {
        set(r, CHECK_SKIP, NULL, "no SDK to check");
    } else if (bld_sdk_ok(&d->b)) {
        set(r, CHECK_OK, NULL, "sdk.version is %s, as SDK_VERSION asks", d->b.stamp.buf);
    } else {
        bld_explain_sdk(d->ctx, &d->b, &msg);
        set(r, CHECK_FAIL, "omvdev sdk install", "%s", msg.buf);
    }
    strbuf_release(&msg);
}

/*
 * The installed files against the manifest `omvdev sdk install` wrote: types,
 * sizes and link targets (a stat per file, so doctor stays fast); the full
 * SHA-256 check is `omvdev sdk verify`.
 */
static void check_sdk_verify(struct doctor *d, struct check_result *r)
{
    struct sdk_verify_result vr;
    char err[512];
    int rc;

    if (!d->have_repo || d->b.no_version || !bld_sdk_ok(&d->b)) {
        set(r, CHECK_SKIP, NULL, "no SDK to verify");
        return;
    }
    if (d->quick) {
        set(r, CHECK_SKIP, NULL, "--quick: not run");
        return;
    }
    rc = sdk_verify(d->b.sdk_dir.buf, SDK_VERIFY_SIZES_ONLY, NULL, NULL, &vr, err, sizeof(err));
    if (rc == OMV_ENOENT)
        set(r, CHECK_WARN, "omvdev sdk install --force (a reinstall that records a manifest)",
            "installed without omvdev (no manifest): its files cannot be checked");
    else if (rc < 0)
        set(r, CHECK_FAIL, "omvdev sdk install --force", "%s", err);
    else if (vr.missing || vr.changed)
        set(r, CHECK_FAIL, "omvdev sdk install --force (omvdev sdk verify lists them)",
            "%llu of %llu entries missing or changed",
            (unsigned long long)(vr.missing + vr.changed), (unsigned long long)vr.checked);
    else
        set(r, CHECK_OK, NULL, "%llu entries as installed (sizes; 'omvdev sdk verify' hashes them)",
            (unsigned long long)vr.checked);
}

static void check_gcc(struct doctor *d, struct check_result *r)
{
    struct strbuf bin = STRBUF_INIT, ver = STRBUF_INIT, sdk_gcc = STRBUF_INIT;
    struct strbuf problem = STRBUF_INIT, fix = STRBUF_INIT;
    char err[1024];
    bool sdk = d->have_repo && !d->b.no_version;

    if (toolchain_probe("arm-none-eabi-gcc", d->path.buf, "-dumpversion", &bin, &ver, NULL, err,
                        sizeof(err)) < 0) {
        set(r, sdk ? CHECK_FAIL : CHECK_WARN,
            sdk ? "omvdev sdk install"
                : "install the Arm GNU Toolchain (Debian/Ubuntu: sudo apt-get install "
                  "gcc-arm-none-eabi): this release builds with the one on PATH",
            "%s", err);
        goto out;
    }
    if (sdk)
        fs_path_join(&sdk_gcc, d->b.sdk_dir.buf, "gcc/bin/arm-none-eabi-gcc");
    if (d->have_repo && d->t && d->t->min_gcc &&
        bld_check_gcc(d->ctx, &d->b, d->t, &problem, &fix) < 0)
        set(r, CHECK_FAIL, fix.buf, "%s", problem.buf);
    else if (sdk && strcmp(bin.buf, sdk_gcc.buf))
        set(r, CHECK_WARN, "omvdev sdk install",
            "make would run '%s' (GCC %s), not the SDK's '%s', which is missing", bin.buf, ver.buf,
            sdk_gcc.buf);
    else
        set(r, CHECK_OK, NULL, "%s runs (GCC %s)", bin.buf, ver.buf);
out:
    strbuf_release(&bin);
    strbuf_release(&ver);
    strbuf_release(&sdk_gcc);
    strbuf_release(&problem);
    strbuf_release(&fix);
}

static void check_gdb(struct doctor *d, struct check_result *r)
{
    struct strbuf bin = STRBUF_INIT, ver = STRBUF_INIT, lib = STRBUF_INIT;
    char err[1024];
    int rc = toolchain_probe("arm-none-eabi-gdb", d->path.buf, "--version", &bin, &ver, &lib, err,
                             sizeof(err));

    if (rc == 0) {
        char *nl = strchr(ver.buf, '\n');

        if (nl)
            *nl = '\0';
        set(r, CHECK_OK, NULL, "%s runs (%s)", bin.buf, ver.buf);
    } else if (lib.len &&
               (!strncmp(lib.buf, "libncurses", 10) || !strncmp(lib.buf, "libtinfo", 8))) {
        set(r, CHECK_FAIL,
            "install the old ncurses libraries: sudo apt-get install libncurses5 libtinfo5 "
            "(Debian/Ubuntu; where they are gone, libncurses6 and a libncursesw.so.5 link to it)",
            "the SDK's gdb does not start: %s is missing", lib.buf);
    } else if (rc == OMV_ENOENT && d->have_repo && d->b.no_version) {
        set(r, CHECK_WARN,
            "install gdb for Arm (Debian/Ubuntu: sudo apt-get install gdb-multiarch, or the Arm "
            "GNU Toolchain's arm-none-eabi-gdb on PATH)",
            "arm-none-eabi-gdb not found on PATH (this release has no SDK)");
    } else if (rc == OMV_ENOENT) {
        set(r, d->have_repo ? CHECK_FAIL : CHECK_WARN, "omvdev sdk install",
            "arm-none-eabi-gdb not found (it comes with the SDK)");
    } else {
        set(r, CHECK_FAIL, "omvdev sdk install", "%s", err);
    }
    strbuf_release(&bin);
    strbuf_release(&ver);
    strbuf_release(&lib);
}

static void check_jlink(struct doctor *d, struct check_result *r)
{
    struct strbuf path = STRBUF_INIT, server = STRBUF_INIT, exe = STRBUF_INIT, opt = STRBUF_INIT;
    bool have_server;

    strbuf_addf(&path, "%s:%s", d->path.buf, sys(d, "/opt/SEGGER/JLink", &opt));
    have_server = proc_find_program("JLinkGDBServerCLExe", path.buf, &server, NULL, 0) == 0 ||
                  proc_find_program("JLinkGDBServer", path.buf, &server, NULL, 0) == 0;
    if (have_server && proc_find_program("JLinkExe", path.buf, &exe, NULL, 0) == 0)
        set(r, CHECK_OK, NULL, "%s, %s", server.buf, exe.buf);
    else
        set(r, CHECK_WARN,
            "install the J-Link Software and Documentation Pack from "
            "https://www.segger.com/downloads/jlink/ (needed only for SWD debugging and recovery)",
            "%s not found", have_server ? "JLinkExe" : "JLinkGDBServerCLExe/JLinkGDBServer");
    strbuf_release(&path);
    strbuf_release(&server);
    strbuf_release(&exe);
    strbuf_release(&opt);
}

/* qemu-system-arm, for the emulated boards (omvdev emulate). */
static void check_qemu(struct doctor *d, struct check_result *r)
{
    struct strbuf exe = STRBUF_INIT;

    if (!d->t || !ctx_qemu_board(d->ctx, d->t->name))
        set(r, CHECK_SKIP, NULL, "needed only for the emulated boards MPS2_AN500 and MPS3_AN547");
    else if (proc_find_program(QEMU_PROGRAM, d->path.buf, &exe, NULL, 0) == 0)
        set(r, CHECK_OK, NULL, "%s", exe.buf);
    else
        set(r, CHECK_FAIL, "sudo apt-get install " QEMU_DEBIAN_PACKAGE,
            "%s not found (%s emulates %s)", QEMU_PROGRAM, QEMU_PROGRAM, d->t->name);
    strbuf_release(&exe);
}

/* Every rules file udev reads, concatenated. */
static void read_rules(const struct doctor *d, struct strbuf *text)
{
    static const char *const dirs[] = {"/etc/udev/rules.d", "/usr/lib/udev/rules.d",
                                       "/lib/udev/rules.d", "/run/udev/rules.d"};
    struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;

    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        DIR *dp = opendir(sys(d, dirs[i], &dir));
        struct dirent *e;

        while (dp && (e = readdir(dp))) {
            size_t len = strlen(e->d_name);

            if (len < 7 || strcmp(e->d_name + len - 6, ".rules"))
                continue;
            strbuf_reset(&path);
            fs_path_join(&path, dir.buf, e->d_name);
            if (fs_read_file(path.buf, text, NULL, 0) == 0)
                strbuf_addch(text, '\n');
        }
        if (dp)
            closedir(dp);
    }
    strbuf_release(&dir);
    strbuf_release(&path);
}

static void check_udev_rules(struct doctor *d, struct check_result *r)
{
    struct strbuf text = STRBUF_INIT, missing = STRBUF_INIT;
    size_t n = 0;

    if (!d->linux_host) {
        set(r, CHECK_SKIP, NULL, "not Linux");
        return;
    }
    read_rules(d, &text);
    for (size_t i = 0; i < ARRAY_SIZE(udev_ids); i++) {
        if (udev_rules_cover(text.buf, udev_ids[i].vid, udev_ids[i].pid))
            continue;
        strbuf_addf(&missing, "%s%s", n ? ", " : "", udev_ids[i].what);
        n++;
    }
    if (n)
        set(r, CHECK_FAIL, "sudo omvdev udev install (or see: omvdev udev install --print)",
            "no udev rule lets users open %s", missing.buf);
    else
        set(r, CHECK_OK, NULL, "rules for 37C5, 0483:DF11, 2341, 1FC9:0135 and 15A2:0073");
    strbuf_release(&text);
    strbuf_release(&missing);
}

static bool read_hex(const char *path, unsigned *out)
{
    struct strbuf sb = STRBUF_INIT;
    char *end;
    bool ok = false;

    if (fs_read_file(path, &sb, NULL, 0) == 0) {
        unsigned long v = strtoul(sb.buf, &end, 16);

        ok = end != sb.buf && v <= 0xffff;
        *out = (unsigned)v;
    }
    strbuf_release(&sb);
    return ok;
}

static bool read_dec(const char *path, unsigned *out)
{
    struct strbuf sb = STRBUF_INIT;
    char *end;
    bool ok = false;

    if (fs_read_file(path, &sb, NULL, 0) == 0) {
        unsigned long v = strtoul(sb.buf, &end, 10);

        ok = end != sb.buf && v < 1000;
        *out = (unsigned)v;
    }
    strbuf_release(&sb);
    return ok;
}

static void check_usb_access(struct doctor *d, struct check_result *r)
{
    struct strbuf dir = STRBUF_INIT, f = STRBUF_INIT, node = STRBUF_INIT, bad = STRBUF_INIT;
    size_t seen = 0, denied = 0;
    struct dirent *e;
    DIR *dp;

    if (!d->linux_host) {
        set(r, CHECK_SKIP, NULL, "not Linux");
        return;
    }
    dp = opendir(sys(d, "/sys/bus/usb/devices", &dir));
    while (dp && (e = readdir(dp))) {
        unsigned vid, pid, bus, dev;
        bool ours = false;

        if (e->d_name[0] == '.' || strchr(e->d_name, ':'))
            continue;
        strbuf_reset(&f);
        strbuf_addf(&f, "%s/%s/idVendor", dir.buf, e->d_name);
        if (!read_hex(f.buf, &vid))
            continue;
        strbuf_reset(&f);
        strbuf_addf(&f, "%s/%s/idProduct", dir.buf, e->d_name);
        if (!read_hex(f.buf, &pid))
            continue;
        for (size_t i = 0; i < ARRAY_SIZE(udev_ids); i++)
            if (udev_ids[i].vid == vid && (udev_ids[i].pid < 0 || (unsigned)udev_ids[i].pid == pid))
                ours = true;
        if (!ours)
            continue;
        strbuf_reset(&f);
        strbuf_addf(&f, "%s/%s/busnum", dir.buf, e->d_name);
        if (!read_dec(f.buf, &bus))
            continue;
        strbuf_reset(&f);
        strbuf_addf(&f, "%s/%s/devnum", dir.buf, e->d_name);
        if (!read_dec(f.buf, &dev))
            continue;
        strbuf_reset(&node);
        strbuf_addf(&node, "%s/dev/bus/usb/%03u/%03u", d->sysroot, bus, dev);
        seen++;
        if (access(node.buf, R_OK | W_OK) < 0) {
            if (!denied)
                strbuf_addf(&bad, "%04X:%04X (%s: %s)", vid, pid, node.buf + strlen(d->sysroot),
                            strerror(errno));
            denied++;
        }
    }
    if (dp)
        closedir(dp);
    if (denied)
        set(r, CHECK_FAIL, "sudo omvdev udev install, then unplug and replug the camera",
            "cannot open %s%s", bad.buf, denied > 1 ? " and others" : "");
    else if (seen)
        set(r, CHECK_OK, NULL,
            "%zu camera or bootloader device node%s open for reading and writing", seen,
            seen == 1 ? "" : "s");
    else
        set(r, CHECK_SKIP, NULL, "no camera or bootloader connected");
    strbuf_release(&dir);
    strbuf_release(&f);
    strbuf_release(&node);
    strbuf_release(&bad);
}

/* Without [build] target: the one board built before, when there is exactly one. */
static const struct target *only_built_board(struct doctor *d)
{
    struct fw_list built = FW_LIST_INIT;
    const struct target *t = NULL;

    fw_tree_built(&d->b.tree, &built);
    if (built.nr == 1)
        t = target_find(ctx_targets(d->ctx), built.items[0]);
    fw_list_release(&built);
    return t;
}

static void check_submodules(struct doctor *d, struct check_result *r)
{
    struct repo_subs s = REPO_SUBS_INIT;
    struct strbuf fix = STRBUF_INIT;
    const struct repo_sub *first = NULL;
    char err[1024];

    if (!d->have_repo) {
        set(r, CHECK_SKIP, NULL, "not inside a firmware repository");
        return;
    }
    if (repo_submodules(d->b.tree.root, d->b.tree.mpy_rel, d->t ? d->t->port : NULL, &s, err,
                        sizeof(err)) < 0) {
        set(r, CHECK_WARN, NULL, "%s", err);
        goto out;
    }
    for (size_t i = 0; i < s.nr && !first; i++)
        if (s.items[i].state != REPO_SUB_OK)
            first = &s.items[i];
    repo_subs_fix(d->b.tree.root, &s, &fix, NULL, NULL);
    if (first)
        set(r, CHECK_FAIL, fix.buf, "submodule '%s' is %s%s", first->path,
            repo_sub_state_text(first->state), repo_subs_bad(&s) > 1 ? " (and others)" : "");
    else
        set(r, CHECK_OK, NULL, "%zu checked out%s%s", s.nr,
            s.from_git ? " at the recorded commits"
                       : " (not a git checkout: their files, not their commits, were checked)",
            d->t ? "" : " (name a board with build.target to check its port's nested ones)");
out:
    repo_subs_release(&s);
    strbuf_release(&fix);
}

static void check_mpy_cross(struct doctor *d, struct check_result *r)
{
    struct strbuf path = STRBUF_INIT, fix = STRBUF_INIT;

    if (!d->have_repo) {
        set(r, CHECK_SKIP, NULL, "not inside a firmware repository");
    } else if (fw_tree_mpy_cross(&d->b.tree, &path)) {
        set(r, CHECK_OK, NULL, "%s", path.buf);
    } else {
        strbuf_addf(&fix, "make -j$(nproc) -C %s/mpy-cross (omvdev build does it)",
                    d->b.tree.mpy_dir);
        set(r, CHECK_WARN, fix.buf, "mpy-cross is not built");
    }
    strbuf_release(&path);
    strbuf_release(&fix);
}

static void check_disk(struct doctor *d, struct check_result *r)
{
    struct strbuf dir = STRBUF_INIT;
    struct statvfs vfs;
    const char *home = getenv("HOME");
    uint64_t avail;
    bool installed;

    if (d->have_repo && !d->b.no_version)
        strbuf_addstr(&dir, d->b.sdk_dir.buf);
    else
        strbuf_addstr(&dir, home && *home ? home : "/");
    installed = d->have_repo && !d->b.no_version && bld_sdk_ok(&d->b);
    /* the nearest directory that exists */
    while (statvfs(dir.buf, &vfs) < 0) {
        char *slash = strrchr(dir.buf, '/');

        if (!slash || slash == dir.buf) {
            strbuf_reset(&dir);
            strbuf_addstr(&dir, "/");
            if (statvfs(dir.buf, &vfs) < 0) {
                set(r, CHECK_WARN, NULL, "cannot tell the free space: %s", strerror(errno));
                goto out;
            }
            break;
        }
        strbuf_setlen(&dir, (size_t)(slash - dir.buf));
    }
    avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (!installed && avail < SDK_DISK_NEED)
        set(r, CHECK_FAIL,
            "free some space, or install the SDK on another disk: SDK_DIR=/other/disk/openmv-sdk-"
            "<version> omvdev sdk install",
            "%.1f GiB free in '%s': the SDK needs about 2 GiB (1.4 GB unpacked, plus the download)",
            (double)avail / (1024.0 * 1024 * 1024), dir.buf);
    else
        set(r, CHECK_OK, NULL, "%.1f GiB free in '%s'", (double)avail / (1024.0 * 1024 * 1024),
            dir.buf);
out:
    strbuf_release(&dir);
}

static const struct {
    const char *name;
    void (*fn)(struct doctor *d, struct check_result *r);
} checks[] = {
    {"platform", check_platform},
    {"wsl", check_wsl},
    {"repo-location", check_repo_location},
    {"wsl-usb", check_wsl_usb},
    {"udev-running", check_udev_daemon},
    {"udev-rules", check_udev_rules},
    {"usb-access", check_usb_access},
    {"sdk-installed", check_sdk_installed},
    {"sdk-stamp", check_sdk_stamp},
    {"sdk-verify", check_sdk_verify},
    {"gcc", check_gcc},
    {"gdb", check_gdb},
    {"jlink", check_jlink},
    {"qemu", check_qemu},
    {"submodules", check_submodules},
    {"mpy-cross", check_mpy_cross},
    {"disk", check_disk},
};

/* 0, 1 or 2 from /proc/sys/kernel/osrelease ("...-microsoft-standard-WSL2", "...-Microsoft"). */
static int detect_wsl(const struct doctor *d)
{
    struct strbuf sb = STRBUF_INIT, path = STRBUF_INIT;
    int wsl = 0;

    if (fs_read_file(sys(d, "/proc/sys/kernel/osrelease", &path), &sb, NULL, 0) == 0)
        wsl = hostenv_wsl_version(sb.buf);
    strbuf_release(&sb);
    strbuf_release(&path);
    return wsl;
}

int cmd_doctor(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct doctor d;
    struct check_result res[ARRAY_SIZE(checks)];
    struct strbuf out = STRBUF_INIT;
    const struct cfg_entry *tcfg = cfg_lookup(&ctx->cfg, "build", "target");
    const char *root = getenv("OMVDEV_SYSROOT");
    size_t counts[4] = {0, 0, 0, 0};
    struct utsname u;

    memset(&d, 0, sizeof(d));
    d.ctx = ctx;
    d.quick = opt_count(&inv->opts, doctor_opts, "quick") > 0;
    d.sysroot = root ? root : "";
    strbuf_init(&d.path);
    d.have_repo = bld_open(ctx, &d.b, true) == 0;
    if (d.have_repo) {
        strbuf_addstr(&d.path, d.b.env.path);
    } else {
        const char *p = getenv("PATH");

        strbuf_addstr(&d.path, p ? p : "/usr/bin:/bin");
    }
    d.linux_host = uname(&u) == 0 && !strcmp(u.sysname, "Linux");
    d.wsl = d.linux_host ? detect_wsl(&d) : 0;
    if (tcfg && ctx_targets(ctx))
        d.t = target_find(ctx_targets(ctx), tcfg->value);
    else if (d.have_repo && ctx_targets(ctx))
        d.t = only_built_board(&d);

    for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
        res[i].status = CHECK_OK;
        strbuf_init(&res[i].msg);
        strbuf_init(&res[i].fix);
        checks[i].fn(&d, &res[i]);
        counts[res[i].status]++;
    }

    if (ctx->json) {
        struct json_writer jw;

        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "checks");
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
            json_object_begin(&jw, NULL);
            json_string(&jw, "name", checks[i].name);
            json_string(&jw, "status", status_names[res[i].status]);
            json_string(&jw, "message", res[i].msg.buf);
            json_string(&jw, "fix", res[i].fix.len ? res[i].fix.buf : NULL);
            json_object_end(&jw);
        }
        json_array_end(&jw);
        json_int(&jw, "ok", (int64_t)counts[CHECK_OK]);
        json_int(&jw, "warnings", (int64_t)counts[CHECK_WARN]);
        json_int(&jw, "failures", (int64_t)counts[CHECK_FAIL]);
        json_int(&jw, "skipped", (int64_t)counts[CHECK_SKIP]);
        json_object_end(&jw);
        strbuf_addch(&out, '\n');
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
            strbuf_addf(&out, "%-4s  %-13s  %s\n", status_names[res[i].status], checks[i].name,
                        res[i].msg.buf);
            if (res[i].fix.len && res[i].status != CHECK_OK)
                strbuf_addf(&out, "      %-13s  fix: %s\n", "", res[i].fix.buf);
        }
        strbuf_addf(&out, "\n%zu ok, %zu warning%s, %zu failure%s, %zu skipped\n", counts[CHECK_OK],
                    counts[CHECK_WARN], counts[CHECK_WARN] == 1 ? "" : "s", counts[CHECK_FAIL],
                    counts[CHECK_FAIL] == 1 ? "" : "s", counts[CHECK_SKIP]);
    }
    out_write(out.buf, out.len);

    for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
        strbuf_release(&res[i].msg);
        strbuf_release(&res[i].fix);
    }
    strbuf_release(&out);
    strbuf_release(&d.path);
    bld_release(&d.b);
    return counts[CHECK_FAIL] ? OMV_EXIT_FAILURE : OMV_EXIT_OK;
}

/* ---- omvdev udev install ----------------------------------------------------------------- */

static const struct embedded_file *udev_rules(void)
{
    for (size_t i = 0; i < udev_templates_count; i++)
        if (!strcmp(udev_templates[i].name, UDEV_RULES_NAME))
            return &udev_templates[i];
    return NULL;
}

static int reload_udev(struct omv_ctx *ctx)
{
    static const char *const reload[] = {"udevadm", "control", "--reload-rules", NULL};
    static const char *const trigger[] = {"udevadm", "trigger", NULL};
    const char *const *steps[] = {reload, trigger};
    char err[512], st[64];

    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        struct proc p;
        struct proc_spec spec;

        memset(&spec, 0, sizeof(spec));
        spec.argv = steps[i];
        spec.out = PROC_INHERIT;
        spec.err = PROC_INHERIT;
        spec.stdin_null = true;
        if (proc_run(&p, &spec, 60000, err, sizeof(err)) < 0) {
            warning(ctx, "%s", err);
            hint(ctx, "the rules apply from the next time udev starts; unplug and replug the "
                      "camera then");
            proc_release(&p);
            return 0;
        }
        if (!p.exited || p.exit_code) {
            error(ctx, "'udevadm %s' failed (%s)", steps[i][1],
                  proc_status_text(&p, st, sizeof(st)));
            proc_release(&p);
            return -1;
        }
        proc_release(&p);
    }
    return 0;
}

int cmd_udev(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct embedded_file *rules = udev_rules();
    const char *root = getenv("OMVDEV_SYSROOT");
    struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT, old = STRBUF_INIT;
    struct stat st;
    char err[1024];
    int rc = OMV_EXIT_OK;

    if (inv->opts.nr_args != 1 || strcmp(inv->opts.args[0], "install"))
        return usage_error(ctx, inv,
                           inv->opts.nr_args ? "unknown action '%s': expected 'install'"
                                             : "expected 'install'%s",
                           inv->opts.nr_args ? inv->opts.args[0] : "");
    if (!rules) {
        error(ctx, "the udev rules are missing from this build of omvdev");
        return OMV_EXIT_FAILURE;
    }
    strbuf_addf(&dir, "%s/etc/udev/rules.d", root ? root : "");
    fs_path_join(&path, dir.buf, UDEV_RULES_NAME);
    if (opt_count(&inv->opts, udev_opts, "print")) {
        out_write(rules->data, rules->len);
        hint(ctx,
             "to install them: omvdev udev install --print > %s && sudo cp %s "
             "/etc/udev/rules.d/ && sudo udevadm control --reload-rules && sudo udevadm "
             "trigger",
             UDEV_RULES_NAME, UDEV_RULES_NAME);
        goto out;
    }
    if (!fs_is_dir(dir.buf)) {
        rc = error(ctx, "cannot install the rules: there is no '%s' (is udev installed?)", dir.buf);
        hint(ctx, "install udev (sudo apt-get install udev), or see: omvdev udev install --print");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (fs_read_file(path.buf, &old, NULL, 0) == 0 && old.len == rules->len &&
        !memcmp(old.buf, rules->data, rules->len) && stat(path.buf, &st) == 0 &&
        (st.st_mode & 07777) == 0644) {
        note(ctx, "'%s' is already up to date", path.buf);
        goto out;
    }
    /* 0644 whatever the umask: udev and 'omvdev doctor' read it as any user. */
    if (fs_write_atomic_mode(path.buf, rules->data, rules->len, 0644, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        hint(ctx,
             "it needs root: sudo omvdev udev install (or: omvdev udev install --print > %s "
             "&& sudo cp %s /etc/udev/rules.d/ && sudo udevadm control --reload-rules && "
             "sudo udevadm trigger)",
             UDEV_RULES_NAME, UDEV_RULES_NAME);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    note(ctx, "wrote '%s'", path.buf);
    if (reload_udev(ctx) < 0) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    note(ctx, "udev reloaded: unplug and replug the camera if it is connected");
out:
    strbuf_release(&dir);
    strbuf_release(&path);
    strbuf_release(&old);
    return rc;
}
