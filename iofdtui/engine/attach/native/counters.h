/* The tally's side counts, apart from its doorbell classification: interrupts
 * per kind and vector (or GSI), and host-side exit latency per exit reason.
 * Internal to the extension (not in the cdef); tally.c owns one of each. */
#ifndef IOFDTUI_COUNTERS_H
#define IOFDTUI_COUNTERS_H
#include "tally.h"

#define IRQ_VECTORS 256
#define IRQ_GSIS 4096 /* KVM_MAX_IRQ_ROUTES on x86 */
#define EXIT_REASONS 256

struct irq_table {
    uint64_t by_vector[3][IRQ_VECTORS]; /* IRQ_MSI, IRQ_ACCEPTED, IRQ_EOI */
    uint64_t by_gsi[2][IRQ_GSIS]; /* raised, lowered */
    uint64_t gsi_out_of_range;
};

struct exit_table {
    struct exit_latency rows[EXIT_REASONS];
    int n;
    int last; /* the row of the previous exit: a VM exits for a few reasons, mostly one */
    uint64_t overflow; /* exits of reasons past EXIT_REASONS (not timed) */
};

void irq_count(struct irq_table *t, int kind, uint32_t key);
size_t irq_list(const struct irq_table *t, struct irq_count *out, size_t max);
/* The row of (isa, reason), made on first sight; -1 when the table is full. */
int exit_row(struct exit_table *t, uint32_t isa, uint32_t reason);
void exit_time(struct exit_table *t, int row, uint64_t ns);

#endif
