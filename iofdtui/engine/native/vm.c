/*
 * The VM: opening KVM and checking its capabilities, guest RAM and the guest
 * image, the vCPU fds and their stats fds, the facts Python shows, and
 * tearing it all down (kvmtool's kvm.c).
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

extern const unsigned char iofdtui_guest_image[];
extern const unsigned int iofdtui_guest_image_len;

/*
 * guest TSC = host TSC + offset (we never set a TSC frequency, so KVM runs the
 * guest's at the host's).  A vCPU ioctl: call it only while no thread is in
 * KVM_RUN (at create, and while parked).
 */
void lab_read_tsc_offset(struct lab *lab)
{
#ifdef KVM_VCPU_TSC_CTRL
    uint64_t offset = 0;
    struct kvm_device_attr attr = {
        .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
        .addr = (uint64_t)(uintptr_t)&offset,
    };
    /* vCPU 0's: paced mode (the only user) runs on vCPU 0 alone. */
    int fd = lab->vcpus[0].fd;
    if (ioctl(fd, KVM_HAS_DEVICE_ATTR, &attr) < 0 || ioctl(fd, KVM_GET_DEVICE_ATTR, &attr) < 0) {
        lab->facts.tsc_offset_errno = errno;
        lab->facts.tsc_offset_ok = 0;
        return;
    }
    if (lab->facts.tsc_offset_ok && offset != lab->tsc_offset)
        lab->facts.tsc_offset_changes++;
    __atomic_store_n(&lab->tsc_offset, offset, __ATOMIC_RELEASE);
    lab->facts.tsc_offset = offset;
    lab->facts.tsc_offset_ok = 1;
#else
    lab->facts.tsc_offset_errno = ENOSYS; /* built against headers without the attribute */
#endif
}

/*
 * A run that ended with the guest halted, an interrupt pending or one never
 * EOI'd leaves that in the in-kernel LAPIC and the vCPU's mp_state: each
 * start begins from the LAPIC as created and a runnable vCPU.
 */
int lab_reset_irq_state(struct lab *lab)
{
    if (!lab->irqchip)
        return 0;
    /* The lab's completions: set up again by the guest, on its own stack. */
    for (int k = 0; k < lab->nvcpus; k++) {
        *vcpu_u32(lab, k, CPL_READY) = 0;
        *vcpu_u32(lab, k, CPL_WANT) = 0;
        *vcpu_u32(lab, k, CPL_STACK) = (uint32_t)k * VCPU_AREA + GUEST_STACK_TOP;
        *vcpu_u32(lab, k, CPL_SELF) = (uint32_t)k + 1;
    }
    memset(lab->ram + CPL_WAITER, 0, 256 * 4);
    *guest_u32(lab, CPL_WAITING) = 0;
    lab_cpl_restart(lab);
    struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
    struct kvm_lapic_state lapic = lab->lapic0;
    if (ioctl(lab->vcpus[0].fd, KVM_SET_LAPIC, &lapic) < 0 ||
        ioctl(lab->vcpus[0].fd, KVM_SET_MP_STATE, &mp) < 0)
        return -errno;
    /* With an in-kernel LAPIC, vCPU 1 is an AP created waiting for INIT/SIPI: run it too. */
    for (int k = 1; k < lab->nvcpus; k++)
        if (ioctl(lab->vcpus[k].fd, KVM_SET_MP_STATE, &mp) < 0)
            return -errno;
    return 0;
}

static int load_image(struct lab *lab)
{
    uint32_t len = iofdtui_guest_image_len;
    if (len < ENTRY_COUNT * 4 || len > GUEST_CODE_MAX)
        return -ENOEXEC;
    memcpy(lab->ram + GUEST_CODE, iofdtui_guest_image, len);
    const uint32_t *table = (const uint32_t *)(lab->ram + GUEST_CODE);
    for (int i = 0; i < ENTRY_COUNT; i++)
        if (table[i] < GUEST_CODE + ENTRY_COUNT * 4 || table[i] >= GUEST_CODE + len)
            return -ENOEXEC;
    for (int k = 0; k < lab->nvcpus; k++)
        *vcpu_u32(lab, k, MB_MAGIC) = MB_MAGIC_VALUE;
    return 0;
}

#define FAIL(st, det)                                                                              \
    do {                                                                                           \
        err = -errno;                                                                              \
        *stage = (st);                                                                             \
        *detail = (det);                                                                           \
        goto fail;                                                                                 \
    } while (0)

/*
 * An in-kernel irqchip (PIC, IOAPIC, a LAPIC per vCPU) for the completion
 * interrupt; before any vCPU exists.  Only when asked: with one, a `hlt` with
 * interrupts off blocks in the kernel instead of exiting (KVM_EXIT_HLT).
 */
static void create_irqchip(struct lab *lab)
{
    static const int caps[] = {KVM_CAP_IRQCHIP, KVM_CAP_IRQFD, KVM_CAP_IRQ_ROUTING,
                               KVM_CAP_SIGNAL_MSI};
    for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        if (ioctl(lab->kvm, KVM_CHECK_EXTENSION, caps[i]) <= 0) {
            lab->facts.irqchip_missing = (int)i + 1;
            return;
        }
    }
    if (ioctl(lab->vm, KVM_CREATE_IRQCHIP, 0) < 0) {
        lab->facts.irqchip_errno = errno;
        return;
    }
    lab->irqchip = lab->facts.irqchip = 1;
}

int lab_create(struct lab **out, int vcpus, int *stage, int64_t *detail)
{
    return lab_create_with(out, vcpus, 0, stage, detail);
}

int lab_create_with(struct lab **out, int vcpus, int irqchip, int *stage, int64_t *detail)
{
    int err = 0;
    if (vcpus < 1 || vcpus > MAX_VCPUS) {
        *stage = LAB_STAGE_VCPUS;
        *detail = MAX_VCPUS;
        return -EINVAL;
    }
    struct lab *lab = calloc(1, sizeof(*lab));
    if (!lab)
        return -ENOMEM;
    lab->kvm = lab->vm = lab->epfd = lab->ctlfd = -1;
    lab->pin_vcpu = lab->pin_reader = -1;
    lab->nvcpus = vcpus;
    for (int k = 0; k < MAX_VCPUS; k++) {
        lab->vcpus[k].lab = lab;
        lab->vcpus[k].index = k;
        lab->vcpus[k].fd = lab->vcpus[k].stats = -1;
    }
    pthread_mutex_init(&lab->ctl, NULL);
    pthread_mutex_init(&lab->mu, NULL);
    pthread_cond_init(&lab->cond, NULL);
    *stage = LAB_STAGE_NONE;
    *detail = 0;

    lab->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (lab->kvm < 0)
        FAIL(LAB_STAGE_OPEN, 0);
    int api = ioctl(lab->kvm, KVM_GET_API_VERSION, 0);
    lab->facts.api_version = api;
    if (api != KVM_API_VERSION) {
        errno = EPROTO;
        FAIL(LAB_STAGE_API, api);
    }
    static const int required[] = {KVM_CAP_IOEVENTFD, KVM_CAP_USER_MEMORY, KVM_CAP_IMMEDIATE_EXIT};
    for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (ioctl(lab->kvm, KVM_CHECK_EXTENSION, required[i]) <= 0) {
            errno = ENOTSUP;
            FAIL(LAB_STAGE_CAP, required[i]);
        }
    }
    lab->facts.cap_any_length = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
    lab->facts.cap_no_length = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_NO_LENGTH) > 0;
    int binary_stats = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0;
    /* api.rst: MAX_VCPUS is the limit; without it NR_VCPUS; without that, assume 4. */
    int max = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (max <= 0)
        max = 4;
    if (vcpus > max) {
        errno = ENOTSUP;
        FAIL(LAB_STAGE_VCPUS, max);
    }

    lab->vm = ioctl(lab->kvm, KVM_CREATE_VM, 0);
    if (lab->vm < 0)
        FAIL(LAB_STAGE_VM, 0);
    /* Needed on VMX without unrestricted guest; harmless (or refused) elsewhere. */
    (void)ioctl(lab->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
    if (irqchip)
        create_irqchip(lab);

    lab->ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (lab->ram == MAP_FAILED) {
        lab->ram = NULL;
        FAIL(LAB_STAGE_MEMORY, 0);
    }
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_RAM_SIZE,
        .userspace_addr = (uint64_t)(uintptr_t)lab->ram,
    };
    if (ioctl(lab->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        FAIL(LAB_STAGE_MEMORY, 0);

    lab->run_size = ioctl(lab->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (lab->run_size < (int)sizeof(struct kvm_run))
        FAIL(LAB_STAGE_VCPU, lab->run_size);
    for (int k = 0; k < vcpus; k++) {
        struct vcpu *v = &lab->vcpus[k];
        v->fd = ioctl(lab->vm, KVM_CREATE_VCPU, k);
        if (v->fd < 0)
            FAIL(LAB_STAGE_VCPU, k);
        v->run = mmap(NULL, (size_t)lab->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
            v->run = NULL;
            FAIL(LAB_STAGE_VCPU, k);
        }
        /* Opened now: vCPU ioctls wait for KVM_RUN to return, reading the fd never does. */
        if (binary_stats)
            v->stats = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
    }
    if (lab->irqchip && ioctl(lab->vcpus[0].fd, KVM_GET_LAPIC, &lab->lapic0) < 0)
        FAIL(LAB_STAGE_VCPU, 0);
    int khz = ioctl(lab->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
    lab->facts.tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    lab_read_tsc_offset(lab);

    err = load_image(lab);
    if (err) {
        *stage = LAB_STAGE_IMAGE;
        goto fail;
    }

    lab->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lab->epfd < 0)
        FAIL(LAB_STAGE_THREADS, 0);
    lab->ctlfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lab->ctlfd < 0)
        FAIL(LAB_STAGE_THREADS, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_EVENT};
    if (epoll_ctl(lab->epfd, EPOLL_CTL_ADD, lab->ctlfd, &ev) < 0)
        FAIL(LAB_STAGE_THREADS, 0);
    for (int i = 0; i < NSLOTS_ALL; i++)
        lab->slots[i].route = -1;
    err = lab_install_kick();
    if (err) {
        *stage = LAB_STAGE_THREADS;
        *detail = lab_kick_signal();
        goto fail;
    }
    *out = lab;
    return 0;

fail:
    lab_destroy(lab);
    return err ? err : -EIO;
}

int lab_facts(struct lab *lab, struct lab_facts *out)
{
    *out = lab->facts;
    return 0;
}

int lab_vcpu_stats_fd(struct lab *lab, int vcpu)
{
    if (vcpu < 0 || vcpu >= lab->nvcpus)
        return -EINVAL;
    return lab->vcpus[vcpu].stats;
}

void lab_destroy(struct lab *lab)
{
    if (!lab)
        return;
    lab_stop_threads(lab); /* its counts go with it: no park first */
    lab_rt_teardown(lab);
    lab_zone_free(lab);
    for (int i = 0; i < lab->nregs; i++) {
        if (lab->regs[i].efd >= 0)
            lab_deassign(lab, i, NULL);
    }
    lab_cpl_destroy(lab);
    free(lab->regs);
    free(lab->drain_fds);
    free(lab->drain_regs);
    if (lab->epfd >= 0)
        close(lab->epfd);
    if (lab->ctlfd >= 0)
        close(lab->ctlfd);
    for (int k = 0; k < MAX_VCPUS; k++) {
        struct vcpu *v = &lab->vcpus[k];
        if (v->stats >= 0)
            close(v->stats);
        if (v->run)
            munmap(v->run, (size_t)lab->run_size);
        if (v->fd >= 0)
            close(v->fd);
    }
    if (lab->vm >= 0)
        close(lab->vm);
    if (lab->ram)
        munmap(lab->ram, GUEST_RAM_SIZE);
    if (lab->kvm >= 0)
        close(lab->kvm);
    pthread_mutex_destroy(&lab->ctl);
    pthread_mutex_destroy(&lab->mu);
    pthread_cond_destroy(&lab->cond);
    free(lab);
}
