/* The attach tracer's hot path: raw ring-buffer pages in, per-thread
 * classification, counts out.  Python gives the layouts (read from tracefs),
 * the pages, and a time horizon; it reads the counts back per snapshot.
 * The cdef is the text between the markers. */
#ifndef IOFDTUI_TALLY_H
#define IOFDTUI_TALLY_H
#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
struct rb_layout {
    int page_size;     /* bytes per sub-buffer page */
    int commit_offset; /* the commit word, from events/header_page */
    int commit_size;   /* 8 (local_t on 64-bit) or 4 */
    int data_offset;   /* the first record */
};

/* One traced event's id and field offsets in its payload (-1: not enabled). */
struct ev_layout {
    int pio_id, pio_pid, pio_rw, pio_port, pio_size, pio_val;
    int mmio_id, mmio_pid, mmio_type, mmio_len, mmio_gpa, mmio_val;
    int fast_id, fast_pid, fast_gpa;
    int exit_id, exit_pid, exit_reason, exit_errno;
};

/* Counts of one (thread, doorbell, width, value). */
struct tally_entry {
    int32_t tid;
    uint8_t bus;       /* 0 pio, 1 mmio */
    uint8_t width;     /* 0: a fast-path write of unknown width */
    uint8_t has_value; /* 0: the tracepoint carries no value */
    uint8_t undecided; /* 1: its thread's last write, nothing after it yet */
    uint64_t addr;
    uint64_t value;
    uint64_t writes;
    uint64_t exits;
};

struct tally_totals {
    uint64_t events;          /* events decoded and classified */
    uint64_t held;            /* decoded, waiting for the horizon */
    uint64_t read_exits;      /* exits that completed a read */
    uint64_t unmatched_exits; /* exits with no access before them in the trace */
    uint64_t missed_pages;    /* pages the kernel flagged: events lost before them */
    uint64_t damaged;         /* records cut short or past the commit */
    uint64_t entries;         /* entries tally_entries() would return */
};

struct tally;
struct tally *tally_new(const struct rb_layout *rb, const struct ev_layout *ev);
void tally_free(struct tally *t);
int tally_add_pages(struct tally *t, const uint8_t *pages, size_t bytes);
int tally_classify(struct tally *t, uint64_t horizon, int final);
void tally_totals(const struct tally *t, struct tally_totals *out);
size_t tally_entries(const struct tally *t, struct tally_entry *out, size_t max);
/* cdef-end */

#endif
