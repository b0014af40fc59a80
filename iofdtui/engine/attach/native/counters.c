/* See counters.h. */
#include "counters.h"

#include <string.h>

void irq_count(struct irq_table *t, int kind, uint32_t key)
{
    if (kind == IRQ_GSI || kind == IRQ_GSI_LOW) {
        if (key < IRQ_GSIS)
            t->by_gsi[kind - IRQ_GSI][key]++;
        else
            t->gsi_out_of_range++;
    } else if (kind >= IRQ_MSI && kind <= IRQ_EOI) {
        t->by_vector[kind][key & (IRQ_VECTORS - 1)]++;
    }
}

static size_t put(struct irq_count *out, size_t n, size_t max, int kind, uint32_t key, uint64_t c)
{
    if (c == 0)
        return n;
    if (out && n < max) {
        out[n].kind = (uint8_t)kind;
        out[n].key = key;
        out[n].count = c;
    }
    return n + 1;
}

/* Every nonzero count, by kind then key; returns how many there are (out may hold fewer). */
size_t irq_list(const struct irq_table *t, struct irq_count *out, size_t max)
{
    size_t n = 0;
    for (int kind = IRQ_MSI; kind <= IRQ_EOI; kind++)
        for (uint32_t v = 0; v < IRQ_VECTORS; v++)
            n = put(out, n, max, kind, v, t->by_vector[kind][v]);
    for (int kind = IRQ_GSI; kind <= IRQ_GSI_LOW; kind++)
        for (uint32_t g = 0; g < IRQ_GSIS; g++)
            n = put(out, n, max, kind, g, t->by_gsi[kind - IRQ_GSI][g]);
    return n;
}

int exit_row(struct exit_table *t, uint32_t isa, uint32_t reason)
{
    if (t->n > 0 && t->rows[t->last].isa == isa && t->rows[t->last].reason == reason)
        return t->last;
    for (int i = 0; i < t->n; i++)
        if (t->rows[i].isa == isa && t->rows[i].reason == reason)
            return t->last = i;
    if (t->n == EXIT_REASONS) {
        t->overflow++;
        return -1;
    }
    struct exit_latency *r = &t->rows[t->n];
    memset(r, 0, sizeof(*r));
    r->isa = isa;
    r->reason = reason;
    r->min_ns = UINT64_MAX;
    return t->last = t->n++;
}

void exit_time(struct exit_table *t, int row, uint64_t ns)
{
    if (row < 0 || row >= t->n)
        return;
    struct exit_latency *r = &t->rows[row];
    r->count++;
    r->sum_ns += ns;
    if (ns < r->min_ns)
        r->min_ns = ns;
    if (ns > r->max_ns)
        r->max_ns = ns;
}
