"""KVM processes, as /proc shows them: VM and vCPU fds, eventfds, vCPU threads.

A process holds a VM when one of its fds is `anon_inode:kvm-vm`; each
`anon_inode:kvm-vcpu:N` is a vCPU; each `anon_inode:[eventfd]` is an eventfd
whose `fdinfo` gives its `eventfd-count` (hex) and, on recent kernels,
`eventfd-id`.  /proc does not say whether an eventfd is an ioeventfd, an
irqfd or anything else; two facts it does give narrow it down (`kind`):
unread signals (a count above 0) mean it is not an irqfd, since KVM reads an
irqfd's count the moment it is written; a place in one of the process's
epoll sets (`tfd:` in the epoll fd's fdinfo) means the process waits to read
it (an ioeventfd, or another notifier KVM or a thread signals).  The rest is
"unknown", never a guess.
A thread is seen running a vCPU when `/proc/PID/task/TID/syscall` shows it
inside `ioctl(fd, KVM_RUN)`.
"""

from __future__ import annotations

import errno as E
import os
from dataclasses import dataclass

from iofdtui.engine.attach.errors import NoSuchVm

KVM_RUN = 0xAE80  # _IO(KVMIO, 0x80)
SYS_IOCTL = 16  # x86-64
PF_USER_WORKER = 0x4000  # include/linux/sched.h: a kernel thread in a user process (6.4+)
MAX_EVENTFDS = 4096  # fdinfo read per process: a VMM with 100,000 decoys is counted, not listed
MAX_FDS = 1 << 20


@dataclass(frozen=True, slots=True)
class EventfdInfo:
    """One eventfd a process holds.

    Attributes:
        fd: its number in that process.
        count: the counter's value now (signals not yet read), or None if unreadable.
        eventfd_id: the kernel's id for it (`eventfd-id`), or None on older kernels.
    """

    fd: int
    count: int | None
    eventfd_id: int | None
    watched_by: tuple[int, ...] = ()

    @property
    def kind(self) -> str:
        """What /proc allows to say: "not an irqfd", "read by the process" or "unknown"."""
        if self.count:
            return "not an irqfd"  # signals unread: KVM would have read an irqfd's at once
        if self.watched_by:
            return "read by the process"
        return "unknown"


@dataclass(frozen=True, slots=True)
class KvmProcess:
    """A process holding at least one KVM VM fd.

    Attributes:
        pid: its process id.
        comm: its command name.
        cmdline: its command line, cut to 200 characters.
        vm_fds: fds on a VM (`kvm-vm`).
        vcpu_fds: fds on a vCPU (`kvm-vcpu:N`).
        eventfds: its eventfds, the first MAX_EVENTFDS by fd number.
        eventfd_total: how many eventfds it holds.
        threads: its thread ids.
        vcpu_threads: threads seen inside KVM_RUN when it was read.
    """

    pid: int
    comm: str
    cmdline: str
    vm_fds: tuple[int, ...]
    vcpu_fds: tuple[int, ...]
    eventfds: tuple[EventfdInfo, ...]
    eventfd_total: int
    threads: tuple[int, ...]
    vcpu_threads: tuple[int, ...]


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(65536).decode(errors="replace")
    except OSError:
        return None


def _epoll_targets(pid: int, epoll_fds: list[int]) -> dict[int, tuple[int, ...]]:
    """Per fd, the epoll fds (of the first MAX_EVENTFDS) whose sets hold it."""
    found: dict[int, list[int]] = {}
    for epfd in epoll_fds[:MAX_EVENTFDS]:
        for line in (_read(f"/proc/{pid}/fdinfo/{epfd}") or "").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "tfd:" and parts[1].isdigit():
                found.setdefault(int(parts[1]), []).append(epfd)
    return {fd: tuple(eps) for fd, eps in found.items()}


def _eventfd_info(pid: int, fd: int, watched_by: tuple[int, ...] = ()) -> EventfdInfo:
    text = _read(f"/proc/{pid}/fdinfo/{fd}") or ""
    count = ident = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        try:
            if key == "eventfd-count":
                count = int(value.strip(), 16)
            elif key == "eventfd-id":
                ident = int(value.strip())
        except ValueError:
            pass  # a line we cannot read is a figure we do not show
    return EventfdInfo(fd, count, ident, watched_by)


def is_user_worker(pid: int, tid: int) -> bool:
    """Whether `tid` is a kernel worker living in the process (PF_USER_WORKER).

    KVM's `kvm-nx-lpage-recovery` thread is one: forked from a vCPU inside its
    first KVM_RUN, its `syscall` file shows that ioctl forever.
    """
    text = _read(f"/proc/{pid}/task/{tid}/stat") or ""
    fields = text.rpartition(")")[2].split()
    try:
        return bool(int(fields[6]) & PF_USER_WORKER)
    except (IndexError, ValueError):
        return False


def in_kvm_run(pid: int, tid: int) -> bool:
    """Whether thread `tid` is inside ioctl(fd, KVM_RUN) right now (a vCPU thread)."""
    text = _read(f"/proc/{pid}/task/{tid}/syscall")
    if not text or is_user_worker(pid, tid):
        return False
    parts = text.split()
    try:
        return int(parts[0]) == SYS_IOCTL and int(parts[2], 16) == KVM_RUN
    except (IndexError, ValueError):
        return False


def threads_of(pid: int) -> tuple[int, ...]:
    """The thread ids of `pid` (empty when it is gone)."""
    try:
        return tuple(sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if t.isdigit()))
    except OSError:
        return ()


def read_process(pid: int, detail: bool = True) -> KvmProcess | None:
    """`pid` as a KvmProcess, or None when it holds no VM (or is gone, or hidden)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    vm, vcpu, eventfds, epolls = [], [], [], []
    for name in fds[:MAX_FDS]:
        try:
            fd = int(name)
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except (OSError, ValueError):
            continue  # closed while we looked
        if target == "anon_inode:kvm-vm":
            vm.append(fd)
        elif target.startswith("anon_inode:kvm-vcpu"):
            vcpu.append(fd)
        elif target == "anon_inode:[eventfd]":
            eventfds.append(fd)
        elif target == "anon_inode:[eventpoll]":
            epolls.append(fd)
    if not vm:
        return None
    eventfds.sort()
    watched = _epoll_targets(pid, sorted(epolls)) if detail else {}
    infos = (
        tuple(_eventfd_info(pid, fd, watched.get(fd, ())) for fd in eventfds[:MAX_EVENTFDS])
        if detail
        else ()
    )
    tids = threads_of(pid)
    running = tuple(t for t in tids if in_kvm_run(pid, t))
    comm = (_read(f"/proc/{pid}/comm") or "?").strip()
    cmdline = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()[:200]
    return KvmProcess(
        pid,
        comm,
        cmdline,
        tuple(sorted(vm)),
        tuple(sorted(vcpu)),
        infos,
        len(eventfds),
        tids,
        running,
    )


def kvm_processes() -> list[KvmProcess]:
    """Every process this user can see that holds a KVM VM, by pid."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            proc = read_process(int(name))
            if proc is not None:
                found.append(proc)
    return sorted(found, key=lambda p: p.pid)


def kvm_process(pid: int) -> KvmProcess:
    """`pid` as a KvmProcess, or NoSuchVm saying why not."""
    if not os.path.isdir(f"/proc/{pid}"):
        raise NoSuchVm(E.ESRCH, f"no process {pid}; `iofdtui attach --list` shows the KVM ones")
    if not os.access(f"/proc/{pid}/fd", os.R_OK):
        raise NoSuchVm(E.EACCES, f"cannot read process {pid}'s fds; run as root or as its owner")
    proc = read_process(pid)
    if proc is None:
        raise NoSuchVm(
            E.ENODEV, f"process {pid} holds no KVM VM; `iofdtui attach --list` shows those that do"
        )
    return proc
