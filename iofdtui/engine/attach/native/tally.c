/* See tally.h.  Ring-buffer page format: kernel/trace/ring_buffer.c
 * (rb_event_length, rb_update_event) and events/header_event. */
#include "tally.h"
#include "counters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_PADDING 29
#define TYPE_TIME_EXTEND 30
#define TYPE_TIME_STAMP 31
#define TS_SHIFT 27
#define MISSED_FLAGS (3ULL << 30)
#define LEN_MASK ((1ULL << 30) - 1)
#define KVM_EXIT_IO 2
#define KVM_EXIT_MMIO 6
#define MMIO_WRITE 2
#define MAX_THREADS 4096
#define NO_PENDING (-1)
#define PENDING_READ (-2)

enum { OP_WRITE, OP_READ, OP_EXIT, OP_HW_EXIT, OP_ENTRY };

struct access {
    uint64_t ts, seq, addr, value; /* OP_HW_EXIT: addr = isa, value = reason */
    int32_t tid;
    uint8_t op, bus, width, has_value;
};

struct thread_state {
    int32_t tid;
    int32_t pending; /* entry index of its undecided write, NO_PENDING or PENDING_READ */
    int32_t exit_row; /* exit_table row of its last kvm_exit not yet re-entered, or -1 */
    uint64_t exit_ts;
};

struct tally {
    struct rb_layout rb;
    struct ev_layout ev;
    struct access *held;
    size_t nheld, held_cap;
    uint64_t seq;
    struct tally_entry *entries;
    size_t nentries, entries_cap;
    int32_t *index; /* open addressing over entries: -1 empty */
    size_t index_cap;
    struct thread_state threads[MAX_THREADS];
    int nthreads;
    struct tally_totals totals;
    struct irq_table irqs;
    struct exit_table exits;
};

static uint64_t rd(const uint8_t *p, int size)
{
    uint64_t v = 0;
    memcpy(&v, p, size); /* little-endian x86 */
    return v;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd(p, 4); }

struct tally *tally_new(const struct rb_layout *rb, const struct ev_layout *ev)
{
    struct tally *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->rb = *rb;
    t->ev = *ev;
    t->index_cap = 1024;
    t->index = malloc(t->index_cap * sizeof(*t->index));
    if (!t->index) {
        free(t);
        return NULL;
    }
    memset(t->index, 0xff, t->index_cap * sizeof(*t->index));
    return t;
}

void tally_free(struct tally *t)
{
    if (!t)
        return;
    free(t->held);
    free(t->entries);
    free(t->index);
    free(t);
}

static int push(struct tally *t, const struct access *a)
{
    if (t->nheld == t->held_cap) {
        size_t cap = t->held_cap ? 2 * t->held_cap : 65536;
        struct access *more = realloc(t->held, cap * sizeof(*more));
        if (!more)
            return -ENOMEM;
        t->held = more;
        t->held_cap = cap;
    }
    t->held[t->nheld] = *a;
    t->held[t->nheld].seq = t->seq++;
    t->nheld++;
    return 0;
}

static int fits(int id, int want, int end, size_t len) { return id == want && len >= (size_t)end; }

/* Interrupt events: counted as they are decoded (no order needed). 1 if it was one. */
static int irq_payload(struct tally *t, const uint8_t *d, size_t len, int id)
{
    const struct ev_layout *e = &t->ev;
    if (fits(id, e->msi_id, e->msi_data + 8, len)) {
        irq_count(&t->irqs, IRQ_MSI, (uint8_t)rd(d + e->msi_data, 8)); /* data's low byte */
        return 1;
    }
    if (fits(id, e->gsi_id, e->gsi_level + 4, len)) {
        irq_count(&t->irqs, rd32(d + e->gsi_level) ? IRQ_GSI : IRQ_GSI_LOW, rd32(d + e->gsi_gsi));
        return 1;
    }
    if (fits(id, e->accept_id, e->accept_vec + 1, len)) {
        irq_count(&t->irqs, IRQ_ACCEPTED, d[e->accept_vec]);
        return 1;
    }
    if (fits(id, e->eoi_id, e->eoi_vector + 4, len)) {
        int32_t vector = (int32_t)rd32(d + e->eoi_vector);
        if (vector >= 0) /* -1: an EOI with no vector in service (kvm_pvm traces one per EOI) */
            irq_count(&t->irqs, IRQ_EOI, (uint32_t)vector);
        return 1;
    }
    return 0;
}

/* One record's payload: an access (or exit, entry) to keep in time order, or 0 for none. */
static int payload(struct tally *t, const uint8_t *d, size_t len, uint64_t ts, struct access *a)
{
    const struct ev_layout *e = &t->ev;
    if (len < 8)
        return 0;
    int id = (int)rd(d, 2);
    memset(a, 0, sizeof(*a));
    a->ts = ts;
    if (fits(id, e->hwexit_id, e->hwexit_isa + 4, len)) {
        a->tid = (int32_t)rd32(d + e->hwexit_pid);
        a->op = OP_HW_EXIT;
        a->addr = rd32(d + e->hwexit_isa);
        a->value = rd32(d + e->hwexit_reason);
        return 1;
    }
    if (fits(id, e->entry_id, e->entry_pid + 4, len)) {
        a->tid = (int32_t)rd32(d + e->entry_pid);
        a->op = OP_ENTRY;
        return 1;
    }
    if (irq_payload(t, d, len, id))
        return 0;
    if (id == e->pio_id && len >= (size_t)e->pio_val + 4) {
        a->tid = (int32_t)rd32(d + e->pio_pid);
        a->op = rd32(d + e->pio_rw) ? OP_WRITE : OP_READ;
        a->bus = 0;
        a->addr = rd32(d + e->pio_port);
        a->width = (uint8_t)rd32(d + e->pio_size);
        a->value = rd32(d + e->pio_val);
        a->has_value = 1;
        return 1;
    }
    if (id == e->mmio_id && len >= (size_t)e->mmio_val + 8) {
        a->tid = (int32_t)rd32(d + e->mmio_pid);
        a->op = rd32(d + e->mmio_type) == MMIO_WRITE ? OP_WRITE : OP_READ;
        a->bus = 1;
        a->addr = rd(d + e->mmio_gpa, 8);
        a->width = (uint8_t)rd32(d + e->mmio_len);
        a->value = rd(d + e->mmio_val, 8);
        a->has_value = 1;
        return 1;
    }
    if (id == e->fast_id && len >= (size_t)e->fast_gpa + 8) {
        /* VMX's fast path: a length-0 MMIO ioeventfd, served before any decode. */
        a->tid = (int32_t)rd32(d + e->fast_pid);
        a->op = OP_WRITE;
        a->bus = 1;
        a->addr = rd(d + e->fast_gpa, 8);
        return 1;
    }
    if (id == e->exit_id && len >= (size_t)e->exit_errno + 4) {
        uint32_t reason = rd32(d + e->exit_reason);
        int32_t err = (int32_t)rd32(d + e->exit_errno);
        if (err != 0 || (reason != KVM_EXIT_IO && reason != KVM_EXIT_MMIO))
            return 0; /* a signal, a halt...: no access completes in userspace */
        a->tid = (int32_t)rd32(d + e->exit_pid);
        a->op = OP_EXIT;
        a->bus = reason == KVM_EXIT_IO ? 0 : 1;
        return 1;
    }
    return 0;
}

static int decode_page(struct tally *t, const uint8_t *page)
{
    const struct rb_layout *rb = &t->rb;
    uint64_t ts = rd(page, 8);
    uint64_t commit = rd(page + rb->commit_offset, rb->commit_size);
    if (commit & MISSED_FLAGS)
        t->totals.missed_pages++;
    size_t end = rb->data_offset + (size_t)(commit & LEN_MASK);
    if (end > (size_t)rb->page_size)
        end = rb->page_size;
    size_t off = rb->data_offset;
    while (off + 4 <= end) {
        uint32_t head = rd32(page + off);
        uint32_t type_len = head & 31, delta = head >> 5;
        size_t data, next;
        if (type_len == 0) {
            if (off + 8 > end)
                break;
            ts += delta;
            data = off + 8;
            next = off + 4 + rd32(page + off + 4);
        } else if (type_len <= 28) {
            ts += delta;
            data = off + 4;
            next = off + 4 + 4 * (size_t)type_len;
        } else if (type_len == TYPE_PADDING) {
            if (delta == 0 || off + 8 > end)
                break; /* the rest of the page is empty */
            ts += delta;
            off += 4 + (size_t)rd32(page + off + 4);
            continue;
        } else {
            if (off + 8 > end)
                break;
            uint64_t high = rd32(page + off + 4);
            if (type_len == TYPE_TIME_EXTEND)
                ts += (high << TS_SHIFT) + delta;
            else /* an absolute stamp keeps 59 bits; the page's gives the rest */
                ts = (ts & ~((1ULL << 59) - 1)) | (high << TS_SHIFT) | delta;
            off += 8;
            continue;
        }
        if (next > end || next <= off || data > next) {
            t->totals.damaged++;
            break; /* stop at what is whole */
        }
        struct access a;
        if (payload(t, page + data, next - data, ts, &a) && push(t, &a) < 0)
            return -ENOMEM;
        off = next;
    }
    return 0;
}

int tally_add_pages(struct tally *t, const uint8_t *pages, size_t bytes)
{
    size_t size = (size_t)t->rb.page_size;
    if (size < (size_t)t->rb.data_offset + 8)
        return -EINVAL;
    for (size_t at = 0; at + size <= bytes; at += size) {
        int rc = decode_page(t, pages + at);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int by_time(const void *pa, const void *pb)
{
    const struct access *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq; /* each CPU's own order kept */
}

static uint64_t hash_key(const struct access *a, int32_t tid)
{
    uint64_t h = (uint64_t)(uint32_t)tid * 0x9E3779B97F4A7C15ULL;
    h ^= (a->addr + ((uint64_t)a->bus << 62)) * 0xC2B2AE3D27D4EB4FULL;
    h ^= (a->value + ((uint64_t)a->width << 56) + a->has_value) * 0x165667B19E3779F9ULL;
    return h ^ (h >> 29);
}

static int same(const struct tally_entry *e, const struct access *a)
{
    return e->tid == a->tid && e->bus == a->bus && e->addr == a->addr && e->width == a->width &&
           e->has_value == a->has_value && e->value == a->value;
}

static int grow_index(struct tally *t)
{
    size_t cap = t->index_cap * 2;
    int32_t *index = malloc(cap * sizeof(*index));
    if (!index)
        return -ENOMEM;
    memset(index, 0xff, cap * sizeof(*index));
    for (size_t i = 0; i < t->nentries; i++) {
        struct access a = {.tid = t->entries[i].tid, .bus = t->entries[i].bus,
                           .addr = t->entries[i].addr, .width = t->entries[i].width,
                           .has_value = t->entries[i].has_value, .value = t->entries[i].value};
        size_t slot = hash_key(&a, a.tid) & (cap - 1);
        while (index[slot] >= 0)
            slot = (slot + 1) & (cap - 1);
        index[slot] = (int32_t)i;
    }
    free(t->index);
    t->index = index;
    t->index_cap = cap;
    return 0;
}

/* The entry of a write (made on first sight), or -ENOMEM. */
static int32_t entry_of(struct tally *t, const struct access *a)
{
    size_t slot = hash_key(a, a->tid) & (t->index_cap - 1);
    while (t->index[slot] >= 0) {
        if (same(&t->entries[t->index[slot]], a))
            return t->index[slot];
        slot = (slot + 1) & (t->index_cap - 1);
    }
    if (t->nentries == t->entries_cap) {
        size_t cap = t->entries_cap ? 2 * t->entries_cap : 256;
        struct tally_entry *more = realloc(t->entries, cap * sizeof(*more));
        if (!more)
            return -ENOMEM;
        t->entries = more;
        t->entries_cap = cap;
    }
    int32_t i = (int32_t)t->nentries++;
    struct tally_entry *e = &t->entries[i];
    memset(e, 0, sizeof(*e));
    e->tid = a->tid;
    e->bus = a->bus;
    e->addr = a->addr;
    e->width = a->width;
    e->has_value = a->has_value;
    e->value = a->has_value ? a->value : 0;
    t->index[slot] = i;
    if (2 * t->nentries > t->index_cap && grow_index(t) < 0)
        return -ENOMEM;
    return i;
}

static struct thread_state *thread_of(struct tally *t, int32_t tid)
{
    for (int i = 0; i < t->nthreads; i++)
        if (t->threads[i].tid == tid)
            return &t->threads[i];
    if (t->nthreads == MAX_THREADS)
        return NULL;
    struct thread_state *s = &t->threads[t->nthreads++];
    s->tid = tid;
    s->pending = NO_PENDING;
    s->exit_row = -1;
    return s;
}

static void time_exit(struct tally *t, struct thread_state *s, const struct access *a)
{
    if (a->op == OP_HW_EXIT) {
        t->totals.hw_exits++;
        if (s) {
            s->exit_row = exit_row(&t->exits, (uint32_t)a->addr, (uint32_t)a->value);
            s->exit_ts = a->ts;
        }
    } else if (s && s->exit_row >= 0) {
        exit_time(&t->exits, s->exit_row, a->ts - s->exit_ts);
        s->exit_row = -1;
    } else {
        t->totals.unpaired_entries++; /* the first entry traced, or its exit was lost */
    }
}

static int classify(struct tally *t, const struct access *a)
{
    struct thread_state *s = thread_of(t, a->tid);
    if (a->op == OP_HW_EXIT || a->op == OP_ENTRY) {
        time_exit(t, s, a); /* an exit's write or read is decided by kvm_userspace_exit only */
    } else if (a->op == OP_WRITE) {
        int32_t i = entry_of(t, a);
        if (i < 0)
            return i;
        t->entries[i].writes++;
        if (s)
            s->pending = i;
    } else if (a->op == OP_EXIT) {
        int32_t last = s ? s->pending : NO_PENDING;
        if (last == PENDING_READ)
            t->totals.read_exits++;
        else if (last >= 0 && t->entries[last].bus == a->bus)
            t->entries[last].exits++;
        else /* its access came before the trace began, or was lost */
            t->totals.unmatched_exits++;
        if (s)
            s->pending = NO_PENDING;
    } else if (s) {
        s->pending = PENDING_READ;
    }
    t->totals.events++;
    return 0;
}

int tally_classify(struct tally *t, uint64_t horizon, int final)
{
    qsort(t->held, t->nheld, sizeof(*t->held), by_time);
    size_t n = 0;
    while (n < t->nheld && (final || t->held[n].ts <= horizon)) {
        int rc = classify(t, &t->held[n]);
        if (rc < 0)
            return rc;
        n++;
    }
    memmove(t->held, t->held + n, (t->nheld - n) * sizeof(*t->held));
    t->nheld -= n;
    return (int)n;
}

void tally_totals(const struct tally *t, struct tally_totals *out)
{
    *out = t->totals;
    out->held = t->nheld;
    out->entries = t->nentries;
    out->irq_keys = irq_list(&t->irqs, NULL, 0);
    out->gsi_out_of_range = t->irqs.gsi_out_of_range;
    out->exit_reasons = (uint64_t)t->exits.n;
}

size_t tally_irqs(const struct tally *t, struct irq_count *out, size_t max)
{
    size_t n = irq_list(&t->irqs, out, max);
    return n < max ? n : max;
}

size_t tally_exit_latency(const struct tally *t, struct exit_latency *out, size_t max)
{
    size_t n = (size_t)t->exits.n < max ? (size_t)t->exits.n : max;
    memcpy(out, t->exits.rows, n * sizeof(*out));
    return n;
}

size_t tally_entries(const struct tally *t, struct tally_entry *out, size_t max)
{
    size_t n = t->nentries < max ? t->nentries : max;
    memcpy(out, t->entries, n * sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i].undecided = 0;
    for (int k = 0; k < t->nthreads; k++) {
        int32_t p = t->threads[k].pending;
        if (p >= 0 && (size_t)p < n)
            out[p].undecided = 1;
    }
    return n;
}
