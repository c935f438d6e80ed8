/*
 * A board build's sizes, recorded and compared: every image in build/<T>/bin with its
 * size and its flash partition (when known), and every section of every ELF there
 * (from `arm-none-eabi-size --format=SysV`). A record is saved as a small text file:
 *
 *     omvdev-sizes 1
 *     target OPENMV4
 *     image firmware.bin 1478000 1703936        (name, bytes, partition bytes or 0)
 *     section firmware.elf .text 1478000        (ELF, section, bytes)
 *
 *     struct size_rec r = SIZE_REC_INIT;
 *     rc = sizes_measure(&r, &in, err, sizeof(err));
 *     rc = sizes_save(&r, "build/omvdev-sizes/base/OPENMV4.sizes", err, sizeof(err));
 *     sizes_diff(&old, &r, SIZES_MARKDOWN, &out);
 *     size_rec_release(&r);
 *
 * Ownership: a record owns its strings until size_rec_release().
 */
#ifndef OMVDEV_TARGETS_SIZES_H
#define OMVDEV_TARGETS_SIZES_H

#include "lib/compat.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "targets/partitions.h"
#include "targets/targets.h"

#include <stddef.h>
#include <stdint.h>

enum size_kind { SIZE_IMAGE, SIZE_SECTION };

struct size_entry {
    enum size_kind kind;
    char *file;    /* firmware.bin, or the ELF of a section */
    char *section; /* ".text" for a section, NULL for an image */
    uint64_t size;
    uint64_t max; /* an image's partition size, 0 when unknown */
};

struct size_rec {
    char *target;
    struct size_entry *items;
    size_t nr, alloc;
};

#define SIZE_REC_INIT                                                                              \
    {                                                                                              \
        NULL, NULL, 0, 0                                                                           \
    }

void size_rec_release(struct size_rec *r);

/* What sizes_measure() reads: the bin directory, the partition sizes, the SDK's PATH. */
struct sizes_input {
    const char *target;
    const char *bin_dir;
    const struct part_layout *layout; /* the repository's partition sizes (may be empty) */
    const struct target *board;       /* the database's entry, or NULL */
    const char *const *envp;          /* for arm-none-eabi-size; NULL: ours */
};

/*
 * Record the images and ELF sections of in->bin_dir. OMV_ENOENT when it holds no .elf
 * (the board was not built); OMV_EIO/OMV_EPARSE when arm-none-eabi-size cannot run or
 * says something unexpected (the buffer has its message).
 */
int sizes_measure(struct size_rec *r, const struct sizes_input *in, char *err, size_t errlen);

/* The partition size of image `file`: the repository's, else the database's; 0 unknown. */
uint64_t sizes_partition(const struct part_layout *layout, const struct target *board,
                         const char *file);

/* Write r to path atomically (its directory is created). */
int sizes_save(const struct size_rec *r, const char *path, char *err, size_t errlen);
/* Read a record; OMV_ENOENT when path does not exist, OMV_EPARSE "path:line: ..." on
 * anything that is not a record. */
int sizes_load(struct size_rec *r, const char *path, char *err, size_t errlen);

enum sizes_format { SIZES_TEXT, SIZES_MARKDOWN, SIZES_JSON };

/*
 * Append the deltas from `old` to `cur` (same board) to out: images with partition fill,
 * then sections; rows that exist on one side only show "-" on the other. For JSON the
 * writer `jw` receives one object (keys "target", "images", "sections"); for text and
 * markdown `out` receives a heading line and two tables. `label` names old ("base").
 */
void sizes_diff(const struct size_rec *old, const struct size_rec *cur, const char *label,
                enum sizes_format fmt, struct strbuf *out, struct json_writer *jw);

/* A record's "images" and "sections" arrays, into the JSON object jw is writing. */
void sizes_json_fields(const struct size_rec *r, struct json_writer *jw);

/* A record's images with their partition fill, as a text table. */
void sizes_images_table(const struct size_rec *r, struct strbuf *out);

#endif
