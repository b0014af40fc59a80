/*
 * The doorbell guest: a flat 32-bit protected-mode program (no paging, no
 * interrupts) that rings the doorbells of its ring plan, read from the
 * mailbox, and counts what it did in its counter pages.
 *
 * Under kvm_pvm every guest instruction is emulated (~0.45 us each), so the
 * ring path is built for instruction count: each visit to a slot rings
 * RING_UNROLL-write blocks back to back, then one more ring, all inside one
 * rdtsc pair, and records the visit's cycles per ring once.  Every ring is
 * inside a timed window, so the samples describe the rings that happen (a
 * ring that pays a reader's wake-up, or is preempted, is in a sample like
 * any other).  The empty timed window (same instructions minus the writes)
 * is sampled once per round so the host can subtract the timer overhead
 * measured in the same run, and the time spent between visits (the loop's
 * own overhead) is summed so the host can set wall time against the samples.
 *
 * Every access to per-vCPU memory (mailbox, scratch variables, wake record,
 * counter pages, slot table) goes through FS, whose base is this vCPU's area
 * (guest_abi.h VCPU_AREA): two vCPUs run this same code with their own
 * plans and counters.  Code, jump tables and the doorbell writes stay DS
 * (base 0), so an MMIO doorbell is the same absolute gpa for both.  The bare
 * floor loops read DS: they are vCPU 0's only.
 */
#include "guest_abi.h"

        .intel_syntax noprefix
        .code32

/* Scratch variables in guest RAM (not registers: all eight are busy). */
#define V_SLOT      (GUEST_VARS + 0)   /* index of the slot being rung */
#define V_CTR       (GUEST_VARS + 4)   /* its counter page */
#define V_RINGS     (GUEST_VARS + 8)   /* rings this visit */
#define V_KIND      (GUEST_VARS + 12)  /* paced: the write kind, kept over the wait */
#define V_NEXT      (GUEST_VARS + 16)  /* paced: TSC (low 32 bits) of the next ring */
#define V_MARK      (GUEST_VARS + 20)  /* TSC (low 32 bits) at the end of the last visit */
#define V_SCRATCH   (GUEST_VARS + 24)  /* paced calibration: stands in for the wake record */
#define CAL_PAGE    (CTR_BASE + CTR_CAL * CTR_STRIDE)

/* cpp does not expand inside the quoted macro arguments below: name them. */
        .equ    slot_value, SLOT_VALUE_LO
        .equ    bare_value, MB_BARE + SLOT_VALUE_LO

        .section .entries, "a"
        .long lab_main
        .long bare_pio1, bare_pio2, bare_pio4
        .long bare_mmio1, bare_mmio2, bare_mmio4, bare_mmio8
        .long rt_main

        .text
/* ---------------------------------------------------------------- lab ---- */
/* Completions came (the host changes them while parked): take interrupts from now on. */
.macro  CPL_CHECK
        cmp     dword ptr fs:[CPL_ON], 0
        je      9f
        cmp     dword ptr fs:[CPL_READY], 0
        jne     9f
        mov     esp, dword ptr fs:[CPL_STACK]   /* nothing is on the lab's stack here */
        call    cpl_setup
9:
.endm

lab_main:
        mov     esp, GUEST_STACK_TOP
        CPL_CHECK
        rdtsc
        mov     dword ptr fs:[V_MARK], eax
round:
        /* Pause handshake: acknowledge at a quiescent point, then park. */
        mov     eax, dword ptr fs:[MB_PAUSE_SEQ]
        cmp     eax, dword ptr fs:[MB_ACK_SEQ]
        je      1f
        cmp     dword ptr [CPL_WAITING], 0      /* a vCPU waits for an interrupt, maybe ours: */
        jne     1f                              /* park at the next round */
        mov     dword ptr fs:[MB_ACK_SEQ], eax
        mov     dx, PARK_PORT
        out     dx, al
        CPL_CHECK
        rdtsc                           /* time parked is not the loop's */
        mov     dword ptr fs:[V_MARK], eax
        jmp     round
1:
        cmp     dword ptr fs:[MB_CMD], CMD_SCRIBBLE
        je      scribble
        mov     dword ptr fs:[V_SLOT], 0

next_slot:
        mov     eax, dword ptr fs:[V_SLOT]
        cmp     eax, dword ptr fs:[MB_NSLOTS]
        jae     calibrate
        cmp     eax, MAX_SLOTS
        jae     calibrate
        shl     eax, SLOT_SHIFT
        lea     esi, [MB_SLOTS + eax]

        mov     ebx, dword ptr fs:[esi + SLOT_CTR]
        cmp     ebx, MAX_SLOTS
        jae     bad_slot
        shl     ebx, CTR_SHIFT
        add     ebx, CTR_BASE
        mov     dword ptr fs:[V_CTR], ebx

        mov     ecx, dword ptr fs:[esi + SLOT_ITERS]
        cmp     ecx, MAX_ITERS
        jbe     2f
        mov     ecx, MAX_ITERS
2:
        mov     eax, ecx
        shl     eax, 4                  /* RING_UNROLL == 16 */
        inc     eax                     /* + the timed ring */
        mov     dword ptr fs:[V_RINGS], eax
        add     dword ptr fs:[ebx + CTR_ISSUED], eax /* announced before any write */

        mov     edi, dword ptr fs:[esi + SLOT_VALUE_LO]
        mov     ebp, dword ptr fs:[esi + SLOT_WHERE]
        mov     eax, dword ptr fs:[esi + SLOT_KIND]
        cmp     eax, NPLANKINDS
        jae     bad_kind
        jmp     dword ptr [kind_table + eax * 4]

        .section .rodata
kind_table:
        .long   ring_pio1, ring_pio2, ring_pio4
        .long   ring_mmio1, ring_mmio2, ring_mmio4, ring_mmio8
        .rept   NKINDS                  /* KIND_PACED + kind: wait first */
        .long   paced
        .endr
        .rept   NKINDS                  /* KIND_CPL + kind: wait after */
        .long   cpl
        .endr
paced_table:
        .long   paced_pio1, paced_pio2, paced_pio4
        .long   paced_mmio1, paced_mmio2, paced_mmio4, paced_mmio8
cpl_table:
        .long   cpl_pio1, cpl_pio2, cpl_pio4
        .long   cpl_mmio1, cpl_mmio2, cpl_mmio4, cpl_mmio8
        .text

/*
 * One visit: ecx blocks of RING_UNROLL writes, then one more, all timed:
 * esi = TSC at the start, eax = TSC at the end, on to `account`.
 * PIO uses dx/eax; MMIO uses [ebx].  The window holds the writes and the
 * loop's branches (two instructions per block); the calibration window
 * below is the same minus the writes and the loop.
 */
.macro  VISIT name, setup, write
\name:
        \setup
        rdtsc
        mov     esi, eax
        mov     eax, edi
        mov     edx, ebp
        test    ecx, ecx
        jz      2f
1:
        .rept   RING_UNROLL
        \write
        .endr
        dec     ecx
        jnz     1b
2:
        \write
        rdtsc
        jmp     account
.endm

        VISIT   ring_pio1,  "",                "out dx, al"
        VISIT   ring_pio2,  "",                "out dx, ax"
        VISIT   ring_pio4,  "",                "out dx, eax"
        VISIT   ring_mmio1, "mov ebx, ebp",     "mov byte ptr [ebx], al"
        VISIT   ring_mmio2, "mov ebx, ebp",     "mov word ptr [ebx], ax"
        VISIT   ring_mmio4, "mov ebx, ebp",     "mov dword ptr [ebx], eax"
        VISIT   ring_mmio8, "mov ebx, ebp; movq mm0, qword ptr fs:[esi + slot_value]", "movq qword ptr [ebx], mm0"

/*
 * Paced mode: wait for the period to pass, publish the ring (seqlock, see
 * guest_abi.h), make the one write, mark it done, count it.  The wait is
 * signed 32-bit TSC arithmetic; a deadline more than a period ahead (a stale
 * one after a pause, or the first) is treated as due.
 */
paced:
        mov     dword ptr fs:[V_KIND], eax
1:
        rdtsc
        sub     eax, dword ptr fs:[V_NEXT]
        jns     2f
        neg     eax
        cmp     eax, dword ptr fs:[MB_PACE]
        jbe     1b
2:
        rdtsc
        add     eax, dword ptr fs:[MB_PACE]
        mov     dword ptr fs:[V_NEXT], eax
        inc     dword ptr fs:[WAKE_SEQ]            /* odd: being written */
        mov     eax, dword ptr fs:[esi + SLOT_CTR]
        mov     dword ptr fs:[WAKE_SLOT], eax
        mov     eax, dword ptr fs:[V_KIND]
        jmp     dword ptr [paced_table + eax * 4 - KIND_PACED * 4]

/*
 * The paced ring is timed from its stamp: the window is the calibration
 * window plus the two instructions that publish the ring, which the paced
 * calibration (calibrate_paced) repeats on a scratch word.
 */
.macro  PACED name, setup, write
\name:
        \setup
        rdtsc
        mov     esi, eax
        mov     dword ptr fs:[WAKE_STAMP], eax
        inc     dword ptr fs:[WAKE_SEQ]            /* even: published */
        mov     eax, edi
        mov     edx, ebp
        \write
        rdtsc
        mov     ecx, dword ptr fs:[WAKE_SEQ]
        mov     dword ptr fs:[WAKE_DONE], ecx
        jmp     account
.endm

        PACED   paced_pio1,  "",                "out dx, al"
        PACED   paced_pio2,  "",                "out dx, ax"
        PACED   paced_pio4,  "",                "out dx, eax"
        PACED   paced_mmio1, "mov ebx, ebp",     "mov byte ptr [ebx], al"
        PACED   paced_mmio2, "mov ebx, ebp",     "mov word ptr [ebx], ax"
        PACED   paced_mmio4, "mov ebx, ebp",     "mov dword ptr [ebx], eax"
        PACED   paced_mmio8, "mov ebx, ebp; movq mm0, qword ptr fs:[esi + slot_value]", "movq qword ptr [ebx], mm0"

/* eax = cycles of the timed window; add it to the histogram at [ebx]. */
.macro  HIST_ADD
        add     dword ptr fs:[ebx + CTR_CYCLES], eax
        inc     dword ptr fs:[ebx + CTR_SAMPLES]
        bsr     ecx, eax
        jz      3f
        sub     ecx, HIST_SUB_BITS
        jbe     3f
        shr     eax, cl
        shl     ecx, HIST_SUB_BITS
        add     eax, ecx
3:
        inc     dword ptr fs:[ebx + CTR_HIST + eax * 4]
.endm

/*
 * esi = TSC at the visit's start, eax = at its end.  Sum the time since the
 * previous visit ended (the loop's overhead), then record this visit's
 * cycles per ring (one sample) and its rings.
 */
.macro  ACCOUNT
        mov     ecx, eax
        sub     eax, esi
        sub     esi, dword ptr fs:[V_MARK]
        mov     dword ptr fs:[V_MARK], ecx
        add     dword ptr fs:[CAL_PAGE + CTR_LOOP], esi
        xor     edx, edx
        div     dword ptr fs:[V_RINGS]     /* >= 1: 16 * iters + 1 */
        mov     ebx, dword ptr fs:[V_CTR]
        mov     ecx, dword ptr fs:[V_RINGS]
        add     dword ptr fs:[ebx + CTR_RINGS], ecx
        HIST_ADD
.endm

account:
        ACCOUNT
        inc     dword ptr fs:[V_SLOT]
        jmp     next_slot

/*
 * A completion visit (KIND_CPL + kind, one ring): set up interrupts on the
 * first one after a start, pick the kick's record, say which vector is
 * awaited, then (interrupts off) make the write, timed as a stream visit
 * of one ring, and stamp the record with the kick's start.
 */
cpl:
        mov     dword ptr fs:[V_KIND], eax
        cmp     dword ptr fs:[CPL_READY], 0
        jne     1f
        mov     esp, dword ptr fs:[CPL_STACK]   /* nothing is on the lab's stack here */
        call    cpl_setup
1:
        cli
        /*
         * Say a wait may begin (a locked op: a full barrier), then look for a
         * pause: the other vCPU parks only while nobody waits, and once it has
         * seen its pause, ours is visible too (the host asks vCPU 0 first), so
         * this kick is skipped rather than left waiting for a parked target.
         */
        lock inc dword ptr [CPL_WAITING]
        mov     eax, dword ptr fs:[MB_PAUSE_SEQ]
        cmp     eax, dword ptr fs:[MB_ACK_SEQ]
        jne     cpl_skip
        /* A LAPIC not yet enabled drops an interrupt: kick once the target is set up. */
        mov     eax, dword ptr fs:[esi + SLOT_TARGET]
        cmp     eax, MAX_VCPUS
        jae     cpl_skip
        imul    eax, eax, VCPU_AREA
        cmp     dword ptr [eax + CPL_READY], 0
        je      cpl_skip
        mov     ecx, dword ptr fs:[CPL_KICKS]
        and     ecx, RT_RECORDS - 1
        shl     ecx, RT_REC_SHIFT
        add     ecx, CPL_REC
        mov     dword ptr fs:[CPL_REC_AT], ecx
        mov     eax, dword ptr fs:[esi + SLOT_VECTOR]
        mov     dword ptr fs:[CPL_WANT], eax
        and     eax, 0xff
        mov     edx, dword ptr fs:[CPL_SELF]
        mov     dword ptr [CPL_WAITER + eax * 4], edx   /* whoever takes it wakes us */
        inc     dword ptr fs:[CPL_KICKS]
        mov     eax, dword ptr fs:[V_KIND]
        jmp     dword ptr [cpl_table + eax * 4 - KIND_CPL * 4]

/* A pause is asked for, or the target is not set up yet: no kick this visit
 * (its announced ring is taken back). */
cpl_skip:
        lock dec dword ptr [CPL_WAITING]
        sub     dword ptr fs:[ebx + CTR_ISSUED], 1
        sti
        inc     dword ptr fs:[V_SLOT]
        jmp     next_slot

.macro  CPL name, setup, write
\name:
        \setup
        rdtsc
        mov     esi, eax
        mov     eax, edi
        mov     edx, ebp
        \write
        rdtsc
        mov     dword ptr fs:[ecx + RT_REC_KICK], esi
        jmp     cpl_wait
.endm

        CPL     cpl_pio1,  "",                "out dx, al"
        CPL     cpl_pio2,  "",                "out dx, ax"
        CPL     cpl_pio4,  "",                "out dx, eax"
        CPL     cpl_mmio1, "mov ebx, ebp",     "mov byte ptr [ebx], al"
        CPL     cpl_mmio2, "mov ebx, ebp",     "mov word ptr [ebx], ax"
        CPL     cpl_mmio4, "mov ebx, ebp",     "mov dword ptr [ebx], eax"
        CPL     cpl_mmio8, "mov ebx, ebp; movq mm0, qword ptr fs:[esi + slot_value]", "movq qword ptr [ebx], mm0"

/*
 * Account the visit with interrupts still off, then wait for the handler
 * to take the awaited vector: `cli; check; sti; hlt` (the sti shadow lets
 * no interrupt slip in between the check and the hlt; a spinning guest
 * sees a pending interrupt late under kvm_pvm).  The wait is neither the
 * visit's cost nor the loop's overhead: the loop's clock restarts after it.
 */
cpl_wait:
        ACCOUNT
1:
        cmp     dword ptr fs:[CPL_WANT], 0
        je      2f
        inc     dword ptr fs:[CPL_HLTS]
        sti
        hlt
        cli
        jmp     1b
2:
        sti                                     /* set up: interrupts on, as cpl_setup left them */
        rdtsc
        mov     dword ptr fs:[V_MARK], eax
        inc     dword ptr fs:[V_SLOT]
        jmp     next_slot

/* Gates 0..31 (exceptions) fault; 32..255 each have a 16-byte stub. */
.macro  BUILD_IDT stubs
        xor     ecx, ecx
1:
        mov     eax, offset rt_exception
        cmp     ecx, 32
        jb      2f
        mov     eax, ecx
        shl     eax, 4
        add     eax, offset \stubs - 32 * 16
2:
        mov     edx, eax
        and     eax, 0xffff
        or      eax, 0x00080000         /* selector 0x08 */
        and     edx, 0xffff0000
        or      edx, 0x8e00             /* present, DPL 0, 32-bit interrupt gate */
        mov     dword ptr [RT_IDT + ecx * 8], eax
        mov     dword ptr [RT_IDT + ecx * 8 + 4], edx
        inc     ecx
        cmp     ecx, 256
        jb      1b
.endm

.macro  LAPIC_ON
        mov     dword ptr [LAPIC_BASE + 0xf0], 0x1ff    /* SVR: enabled, spurious 0xff */
        mov     dword ptr [LAPIC_BASE + 0x80], 0        /* TPR: accept every priority */
        mov     dword ptr [LAPIC_BASE + 0x350], 0x10000 /* LINT0 masked */
        mov     dword ptr [LAPIC_BASE + 0x360], 0x10000 /* LINT1 masked */
.endm

/*
 * Interrupts for the lab, once per start on each vCPU (its LAPIC is its own),
 * then left on: a vCPU may be a completion's target while it rings its own
 * plan, and the handler keeps every register and the flags.  Only a
 * completion visit turns them off, from its kick to its wait.
 */
cpl_setup:
        pushad
        lgdt    [rt_gdtr]
        BUILD_IDT lab_stubs
        lidt    [rt_idtr]
        LAPIC_ON
        mov     dword ptr fs:[CPL_READY], 1
        popad
        sti
        ret

/* The empty timed window, in the shape of this round's visits. */
calibrate:
        cmp     dword ptr fs:[MB_PACE], 0
        jne     calibrate_paced
        rdtsc
        mov     esi, eax
        mov     eax, edi
        mov     edx, ebp
        rdtsc
        jmp     calibrated
calibrate_paced:
        rdtsc
        mov     esi, eax
        mov     dword ptr fs:[V_SCRATCH], eax
        inc     dword ptr fs:[V_SCRATCH + 4]
        mov     eax, edi
        mov     edx, ebp
        rdtsc
calibrated:
        sub     eax, esi
        mov     ebx, CAL_PAGE
        HIST_ADD
        inc     dword ptr fs:[MB_ROUNDS]
        jmp     round

bad_slot:
        mov     al, FAULT_BAD_SLOT
        jmp     fault
bad_kind:
        mov     al, FAULT_BAD_KIND
fault:
        mov     dx, FAULT_PORT
        out     dx, al
        jmp     fault

/*
 * Test hook: a misbehaving guest.  Fill every counter page and the
 * handshake word with pseudo-random garbage, then carry on ringing.
 */
scribble:
        mov     eax, dword ptr fs:[MB_SEED]
        mov     edi, CTR_BASE
        mov     ecx, (CTR_COUNT * CTR_STRIDE) / 4
4:
        imul    eax, eax, 1103515245
        add     eax, 12345
        mov     dword ptr fs:[edi], eax
        add     edi, 4
        dec     ecx
        jnz     4b
        mov     dword ptr fs:[MB_ACK_SEQ], eax
        mov     dword ptr fs:[MB_CMD], CMD_RUN
        jmp     round

/* ------------------------------------------------------------ floors ---- */
/* The bare loops: one write and a jump, no timing, no counters. */
.macro  BARE name, setup, write
\name:
        mov     edx, dword ptr [MB_BARE + SLOT_WHERE]
        mov     ebx, edx
        mov     eax, dword ptr [MB_BARE + SLOT_VALUE_LO]
        \setup
1:
        \write
        jmp     1b
.endm

        BARE    bare_pio1,  "", "out dx, al"
        BARE    bare_pio2,  "", "out dx, ax"
        BARE    bare_pio4,  "", "out dx, eax"
        BARE    bare_mmio1, "", "mov byte ptr [ebx], al"
        BARE    bare_mmio2, "", "mov word ptr [ebx], ax"
        BARE    bare_mmio4, "", "mov dword ptr [ebx], eax"
        BARE    bare_mmio8, "movq mm0, qword ptr [bare_value]", "movq qword ptr [ebx], mm0"

/* -------------------------------------------------------- round trip ---- */
/*
 * The kick -> interrupt loop (ENTRY_ROUNDTRIP, vCPU 0, an in-kernel irqchip;
 * see guest_abi.h RT_*).  The guest needs a GDT and an IDT of its own for
 * interrupt delivery; its LAPIC is software-enabled with LINT0/LINT1 masked.
 * It kicks with interrupts off, then waits with `sti; hlt` (the sti shadow
 * means no interrupt can slip in between): under kvm_pvm a spinning guest
 * sees a pending interrupt only after up to 1,024 more emulated instructions.
 * kvm_pvm does not emulate a protected-mode `iret`, so the handler returns
 * with `popfd; ret 8` (same privilege, same effect).
 */
        .section .rodata
        .balign 8
rt_gdt:
        .quad   0
        .quad   0x00cf9b000000ffff      /* 0x08: flat 32-bit code, as the host's CS */
        .quad   0x00cf93000000ffff      /* 0x10: flat data */
rt_gdtr:
        .word   3 * 8 - 1
        .long   rt_gdt
rt_idtr:
        .word   256 * 8 - 1
        .long   RT_IDT
        .balign 4
rt_kick_table:                          /* path + 3 * bus */
        .long   rt_kick_ioeventfd, rt_kick_user, rt_kick_self
        .long   rt_kick_ioeventfd_mmio, rt_kick_user_mmio, rt_kick_self
        .text

rt_main:
        mov     esp, GUEST_STACK_TOP
        lgdt    [rt_gdtr]
        BUILD_IDT rt_stubs
        lidt    [rt_idtr]
        LAPIC_ON
        /* The pin route: the pin's redirection entry, destination first, unmasked last. */
        cmp     dword ptr [RT_ROUTE], RT_ROUTE_PIN
        jne     1f
        mov     eax, dword ptr [RT_PIN]
        and     eax, 0x1f
        shl     eax, 1
        add     eax, 0x11                               /* the entry's high half */
        mov     dword ptr [IOAPIC_BASE], eax
        mov     dword ptr [IOAPIC_BASE + 0x10], 0       /* destination: APIC id 0 */
        dec     eax
        mov     dword ptr [IOAPIC_BASE], eax
        mov     ecx, dword ptr [RT_VECTOR]
        and     ecx, 0xff
        or      ecx, 0x8000                             /* fixed, physical, active high, level */
        mov     dword ptr [IOAPIC_BASE + 0x10], ecx
1:
        sti

rt_round:
        mov     eax, dword ptr [MB_PAUSE_SEQ]
        cmp     eax, dword ptr [MB_ACK_SEQ]
        je      1f
        mov     dword ptr [MB_ACK_SEQ], eax
        mov     dx, PARK_PORT
        out     dx, al
1:
        mov     ecx, dword ptr [RT_PATH]
        cmp     ecx, RT_PATH_SELF_IPI
        ja      bad_kind
        cmp     dword ptr [RT_BUS], RT_BUS_MMIO
        ja      bad_kind
        jne     1f
        add     ecx, 3
1:
        mov     ebx, dword ptr [RT_KICKS]
        and     ebx, RT_RECORDS - 1
        shl     ebx, RT_REC_SHIFT
        add     ebx, RT_REC
        mov     esi, dword ptr [RT_IRQS]
        cli
        inc     dword ptr [RT_KICKS]
        jmp     dword ptr [rt_kick_table + ecx * 4]

/* Each kick is stamped at most two instructions before it is made. */
rt_kick_ioeventfd:
        rdtsc
        mov     dword ptr [ebx + RT_REC_KICK], eax
        mov     dx, RT_PORT                /* after rdtsc, which writes edx */
        out     dx, al
        jmp     rt_wait
rt_kick_user:
        rdtsc
        mov     dword ptr [ebx + RT_REC_KICK], eax
        mov     dx, RT_USER_PORT                /* after rdtsc, which writes edx */
        out     dx, al
        jmp     rt_wait
rt_kick_ioeventfd_mmio:
        rdtsc
        mov     dword ptr [ebx + RT_REC_KICK], eax
        mov     dword ptr [RT_MMIO], eax
        jmp     rt_wait
rt_kick_user_mmio:
        rdtsc
        mov     dword ptr [ebx + RT_REC_KICK], eax
        mov     dword ptr [RT_USER_MMIO], eax
        jmp     rt_wait
rt_kick_self:
        mov     ecx, dword ptr [RT_VECTOR]
        or      ecx, 0x40000            /* ICR: shorthand self, fixed delivery */
        rdtsc
        mov     dword ptr [ebx + RT_REC_KICK], eax
        mov     dword ptr [LAPIC_BASE + 0x300], ecx

rt_wait:
        cmp     dword ptr [RT_IRQS], esi
        jne     1f
        sti
        hlt
        cli
        jmp     rt_wait
1:
        sti
        jmp     rt_round

rt_exception:
        cli
        mov     al, FAULT_EXCEPTION
        jmp     fault

/* One stub per vector 32..255: stamp first, then the vector, then common. */
.macro  IRQ_STUBS name, common
        .balign 16
\name:
        .set    rt_vec, 32
        .rept   224
        .balign 16
        push    eax
        push    edx
        rdtsc
        .byte   0x68                    /* push imm32: the vector */
        .long   rt_vec
        jmp     \common
        .set    rt_vec, rt_vec + 1
        .endr
.endm

        IRQ_STUBS rt_stubs, rt_common
        IRQ_STUBS lab_stubs, lab_irq

/*
 * The lab's handler: count the vector on this vCPU; if a kicker waits for
 * it (CPL_WAITER), stamp the kicker's record, end its wait and, when the
 * kicker is another vCPU, wake it with an IPI (a second interrupt on the
 * vector before the next kick counts as not awaited).  Always EOI.  Stack
 * and return as rt_common's; the kicker's area is reached through DS.
 */
lab_irq:
        push    ecx
        mov     ecx, dword ptr [esp + 4]
        and     ecx, 0xff
        inc     dword ptr fs:[CPL_VEC_COUNT + ecx * 4]
        cmp     ecx, CPL_WAKE_VECTOR
        je      3f
        mov     edx, dword ptr [CPL_WAITER + ecx * 4]
        sub     edx, 1
        jb      1f                                      /* nobody waits: 0 - 1 borrows */
        cmp     edx, MAX_VCPUS
        jae     1f
        mov     dword ptr [CPL_WAITER + ecx * 4], 0
        lock dec dword ptr [CPL_WAITING]
        push    ebx
        mov     ebx, edx
        imul    ebx, ebx, VCPU_AREA                     /* the kicker's area, linear */
        mov     ecx, dword ptr [ebx + CPL_REC_AT]
        and     ecx, (RT_RECORDS - 1) << RT_REC_SHIFT
        mov     dword ptr [ebx + ecx + CPL_REC + RT_REC_HANDLER], eax
        mov     dword ptr [ebx + CPL_WANT], 0
        inc     dword ptr [ebx + CPL_IRQS]
        inc     edx
        cmp     edx, dword ptr fs:[CPL_SELF]
        je      4f
        dec     edx
        shl     edx, 24                                 /* ICR high: destination APIC id */
        mov     dword ptr [LAPIC_BASE + 0x310], edx
        mov     dword ptr [LAPIC_BASE + 0x300], CPL_WAKE_VECTOR /* fixed, physical */
4:
        pop     ebx
        jmp     2f
3:
        inc     dword ptr fs:[CPL_WAKES]
        jmp     2f
1:
        inc     dword ptr fs:[CPL_OTHER]
2:
        cmp     dword ptr fs:[CPL_MISBEHAVE], 0         /* the test hook, one compare */
        jne     5f
        mov     dword ptr [LAPIC_BASE + 0xb0], 0        /* EOI */
6:
        pop     ecx
        add     esp, 4
        pop     edx
        pop     eax
        push    dword ptr [esp + 8]     /* eflags: IF as it was */
        popfd
        ret     8
5:
        cmp     dword ptr fs:[CPL_MISBEHAVE], RT_MASK_LAPIC
        jne     6b                                      /* RT_SKIP_EOI: no EOI */
        mov     dword ptr [LAPIC_BASE + 0xf0], 0xff     /* SVR: software-disabled */
        mov     dword ptr [LAPIC_BASE + 0xb0], 0
        jmp     6b

/* Stack: [vector][edx][eax][eip][cs][eflags]; eax = TSC at entry. */
rt_common:
        push    ecx
        mov     ecx, dword ptr [esp + 4]
        and     ecx, 0xff
        inc     dword ptr [RT_VEC_COUNT + ecx * 4]
        cmp     ecx, dword ptr [RT_VECTOR]
        jne     1f
        mov     edx, dword ptr [RT_KICKS]
        dec     edx
        and     edx, RT_RECORDS - 1
        shl     edx, RT_REC_SHIFT
        mov     dword ptr [RT_REC + RT_REC_HANDLER + edx], eax
        inc     dword ptr [RT_IRQS]
        jmp     2f
1:
        inc     dword ptr [RT_OTHER]
2:
        cmp     dword ptr [RT_MISBEHAVE], RT_MASK_LAPIC
        jne     3f
        mov     dword ptr [LAPIC_BASE + 0xf0], 0xff     /* SVR: software-disabled */
3:
        cmp     dword ptr [RT_MISBEHAVE], RT_SKIP_EOI
        je      4f
        mov     dword ptr [LAPIC_BASE + 0xb0], 0        /* EOI */
4:
        pop     ecx
        add     esp, 4
        pop     edx
        pop     eax
        push    dword ptr [esp + 8]     /* eflags: IF as it was */
        popfd
        ret     8                       /* eip, then drop cs and eflags */
