/*
 * The QEMU doorbell guest: a multiboot image for `qemu-system-x86_64 -accel
 * kvm -kernel`, so `iofdtui attach` can be checked on a real VMM.
 *
 * It rings QEMU's pci-testdev (hw/misc/pci-testdev.c), whose BARs hold six
 * tests: for each bus (MMIO BAR0, PIO BAR1) "no-eventfd", "wildcard-eventfd"
 * and "datamatch-eventfd" (value 0xfa).  Writing N to offset 0 of a BAR makes
 * test N of that bus the current one, and QEMU registers its ioeventfd with
 * KVM (none for no-eventfd); one test is current at a time.  A write that
 * reaches QEMU and matches the test (width 1, value 0xfa, any value for the
 * wildcard) bumps the test's count, which the guest reads back at offset 12.
 * So per phase: writes the kernel served raise nothing in QEMU; writes that
 * exited are counted by QEMU.
 *
 * The guest programs the BARs itself (firmware may or may not have), runs
 * the phases below, and reports each on the debugcon port (0xe9) as one line
 *   phase <bus> <address> <value> <writes> <qemu's count>      (hex fields)
 * then "done" and halts with interrupts off.  With "loop" on its command line
 * (`-append loop`) it runs the phases forever instead, silently: a live demo.
 *
 * Multiboot leaves us in flat 32-bit protected mode, paging and interrupts
 * off; EBX points at the multiboot information.
 */
        .intel_syntax noprefix
        .code32

#define MB_MAGIC        0x1badb002
#define MB_FLAGS        0x00010000      /* the a.out kludge: addresses below */
#define LOAD_ADDR       0x00100000

#define PCI_ADDR        0xcf8
#define PCI_DATA        0xcfc
#define TESTDEV_CFG     0x80002800      /* bus 0, device 5 (-device pci-testdev,addr=5) */
#define MMIO_BAR        0xc0000000
#define PIO_BAR         0xc000
#define DEBUGCON        0xe9

/* Test offsets: IOTEST_SIZE + test index (mmio 0..2, portio 3..5). */
#define MMIO_NOEVENTFD  (MMIO_BAR + 2048 + 0)
#define MMIO_WILDCARD   (MMIO_BAR + 2048 + 1)
#define MMIO_DATAMATCH  (MMIO_BAR + 2048 + 2)
#define PIO_NOEVENTFD   (PIO_BAR + 128 + 3)
#define PIO_WILDCARD    (PIO_BAR + 128 + 4)
#define COUNT_OFFSET    12
#define MATCH           0xfa

        .text
        .globl _start
        .align 4
multiboot_header:
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        .long multiboot_header, LOAD_ADDR, _edata, _end, _start

_start:
        mov     esp, offset stack_top
        call    want_loop
        mov     [loop_flag], eax

        /* BAR0 (MMIO), BAR1 (PIO), then decode both (command: I/O + memory). */
        mov     eax, TESTDEV_CFG + 0x10
        mov     ecx, MMIO_BAR
        call    cfg_write
        mov     eax, TESTDEV_CFG + 0x14
        mov     ecx, PIO_BAR
        call    cfg_write
        mov     eax, TESTDEV_CFG + 0x04
        mov     ecx, 3
        call    cfg_write

phases:
        /* PIO, no eventfd: every write exits, QEMU counts them. */
        mov     esi, 0
        call    select_pio
        mov     edx, PIO_NOEVENTFD
        mov     ecx, 300
        mov     al, MATCH
1:      out     dx, al
        loop    1b
        mov     ebx, PIO_NOEVENTFD
        mov     edi, 300
        mov     ecx, MATCH
        mov     ebp, 'p'
        call    report

        /* PIO, wildcard ioeventfd: every write served in the kernel. */
        mov     esi, 1
        call    select_pio
        mov     edx, PIO_WILDCARD
        mov     ecx, 400
        mov     al, 0x11
1:      out     dx, al
        loop    1b
        mov     ebx, PIO_WILDCARD
        mov     edi, 400
        mov     ecx, 0x11
        mov     ebp, 'p'
        call    report

        /* MMIO, wildcard ioeventfd. */
        mov     esi, 1
        call    select_mmio
        mov     ecx, 250
1:      mov     byte ptr [MMIO_WILDCARD], 0x22
        loop    1b
        mov     ebx, MMIO_WILDCARD
        mov     edi, 250
        mov     ecx, 0x22
        mov     ebp, 'm'
        call    report

        /* MMIO, ioeventfd on 0xfa: 0xfa is served in the kernel, 0x01 exits
           (and QEMU, matching 0xfa only, does not count it). */
        mov     esi, 2
        call    select_mmio
        mov     ecx, 500
1:      mov     byte ptr [MMIO_DATAMATCH], MATCH
        loop    1b
        mov     ebx, MMIO_DATAMATCH
        mov     edi, 500
        mov     ecx, MATCH
        mov     ebp, 'm'
        call    report
        mov     ecx, 200
1:      mov     byte ptr [MMIO_DATAMATCH], 0x01
        loop    1b
        mov     ebx, MMIO_DATAMATCH
        mov     edi, 200
        mov     ecx, 0x01
        mov     ebp, 'm'
        call    report

        /* MMIO, no eventfd: every write exits. */
        mov     esi, 0
        call    select_mmio
        mov     ecx, 100
1:      mov     byte ptr [MMIO_NOEVENTFD], MATCH
        loop    1b
        mov     ebx, MMIO_NOEVENTFD
        mov     edi, 100
        mov     ecx, MATCH
        mov     ebp, 'm'
        call    report

        cmp     dword ptr [loop_flag], 0
        jne     phases
        mov     esi, offset done_text
        call    puts
        cli
2:      hlt
        jmp     2b

/* eax: 1 when the multiboot command line holds "loop" after its first word. */
want_loop:
        xor     eax, eax
        test    dword ptr [ebx], 4              /* MBI_CMDLINE */
        jz      9f
        mov     esi, [ebx + 16]
1:      mov     dl, [esi]                       /* skip the kernel's own name */
        test    dl, dl
        jz      9f
        inc     esi
        cmp     dl, ' '
        jne     1b
2:      cmp     byte ptr [esi], 0
        je      9f
        cmp     dword ptr [esi], 0x706f6f6c     /* "loop" */
        je      3f
        inc     esi
        jmp     2b
3:      mov     eax, 1
9:      ret

/* Config register eax := ecx. */
cfg_write:
        mov     dx, PCI_ADDR
        out     dx, eax
        mov     dx, PCI_DATA
        mov     eax, ecx
        out     dx, eax
        ret

/* Make test esi of a bus the current one (a write to its BAR's offset 0). */
select_pio:
        mov     dx, PIO_BAR
        mov     eax, esi
        out     dx, al
        ret
select_mmio:
        mov     eax, esi
        mov     byte ptr [MMIO_BAR], al
        ret

/* Report a phase (ebp 'p'/'m', ebx address, ecx value, edi writes), with
   QEMU's count read back through the PIO BAR (a byte per read). */
report:
        cmp     dword ptr [loop_flag], 0
        jne     9f
        push    ecx
        mov     esi, offset phase_text
        call    puts
        mov     esi, offset pio_text
        cmp     ebp, 'p'
        je      1f
        mov     esi, offset mmio_text
1:      call    puts
        mov     eax, ebx
        call    put_hex
        pop     eax
        call    put_hex
        mov     eax, edi
        call    put_hex
        xor     ebx, ebx                        /* the count, little-endian */
        mov     ecx, 4
        mov     dx, PIO_BAR + COUNT_OFFSET + 3
2:      shl     ebx, 8
        in      al, dx
        mov     bl, al
        dec     dx
        loop    2b
        mov     eax, ebx
        call    put_hex
        mov     al, '\n'
        out     DEBUGCON, al
9:      ret

/* The NUL-terminated string at esi, to debugcon. */
puts:
        lodsb
        test    al, al
        jz      1f
        out     DEBUGCON, al
        jmp     puts
1:      ret

/* " " then eax as 8 hex digits, to debugcon. */
put_hex:
        mov     edx, eax
        mov     al, ' '
        out     DEBUGCON, al
        mov     ecx, 8
1:      rol     edx, 4
        mov     al, dl
        and     al, 15
        add     al, '0'
        cmp     al, '9'
        jbe     2f
        add     al, 'a' - '9' - 1
2:      out     DEBUGCON, al
        loop    1b
        ret

        .data
phase_text:     .asciz "phase "
pio_text:       .asciz "pio"
mmio_text:      .asciz "mmio"
done_text:      .asciz "done\n"
        .align 4
loop_flag:      .long 0

        .bss
        .align 16
        .space 4096
stack_top:
