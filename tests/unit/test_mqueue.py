"""POSIX message queues without a tracee: the queue model (order, limits, charges, lifetime,
notification ends) and the calls against the fake platform (the SI_MESGQ siginfo, queued
only once the sending call is answered)."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from compatd.errors import KernelError
from compatd.kernel.fdtable import FDTable
from syscalls.handlers.mqueue import MQ_ATTR, SI_MESGQ, SIGEVENT, SIGINFO_RT
from tests.unit.fakeplatform import FakePlatform
from tests.unit.test_kernel import neg, run
from vfs.base import POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from vfs.flags import O_CREAT, O_RDWR
from vfs.mqueuefs import MqInode, MqSysctl, MqueueFS, Notification

UNLIMITED = 1 << 62


def make(fs: MqueueFS, name: bytes = b"q", attr: tuple[int, int] | None = (4, 16), *,
         rlimit: int = UNLIMITED, privileged: bool = False) -> MqInode:
    return fs.create(name, 0o600, (0, 0), 0, attr, rlimit, privileged)


def test_priority_order_fifo_within_a_priority_and_the_status_line() -> None:
    q = make(MqueueFS(MqSysctl()))
    for text, prio in ((b"a", 1), (b"b", 5), (b"c", 1), (b"d", 9), (b"e", 5)):
        q.insert(text, prio)
    assert q.status() == b"QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"
    assert [q.take() for _ in range(5)] == [(9, b"d"), (5, b"b"), (5, b"e"), (1, b"a"),
                                            (1, b"c")]
    assert q.qsize == 0


def test_poll_is_pollin_with_messages_and_pollout_while_not_full() -> None:
    q = make(MqueueFS(MqSysctl()), attr=(1, 8))
    f = q.open(O_RDWR)
    assert f.poll() == POLLOUT | POLLWRNORM
    q.insert(b"x", 0)
    assert f.poll() == POLLIN | POLLRDNORM


def test_creation_limits() -> None:
    fs = MqueueFS(MqSysctl(queues_max=1))
    for attr in ((0, 16), (-1, 16), (4, 0), (11, 16), (4, 8193)):
        with pytest.raises(KernelError) as e:
            make(fs, attr=attr)
        assert e.value.errno == errno.EINVAL
    assert make(fs, attr=(11, 8193), privileged=True).maxmsg == 11  # the hard limits
    with pytest.raises(KernelError) as e:
        make(fs, b"second")
    assert e.value.errno == errno.ENOSPC
    assert make(fs, b"second", privileged=True).maxmsg == 4
    default = make(MqueueFS(MqSysctl(msg_default=20, msgsize_default=100)), attr=None)
    assert (default.maxmsg, default.msgsize) == (10, 100)  # min(max, default)


def test_rlimit_msgqueue_charge_lasts_until_the_last_close_of_an_unlinked_queue() -> None:
    fs = MqueueFS(MqSysctl())
    # 10 messages of 104 bytes: 10 * (104 + 48) + 10 * 48 = 2000 bytes.
    with pytest.raises(KernelError) as e:
        make(fs, attr=(10, 105), rlimit=2000)
    assert e.value.errno == errno.EMFILE
    q = make(fs, attr=(10, 104), rlimit=2000)
    f = q.open(O_RDWR)
    fs.unlink(b"q")
    assert q.stat().nlink == 0 and fs.count == 1
    with pytest.raises(KernelError):
        make(fs, b"other", attr=(1, 1), rlimit=2000)
    f.release()
    assert fs.count == 0 and fs.charged == {0: 0}
    make(fs, b"other", attr=(1, 1), rlimit=2000)


def test_closing_a_descriptor_in_the_registered_table_ends_the_notification() -> None:
    q = make(MqueueFS(MqSysctl()))
    mine, other = FDTable(), FDTable()
    f = q.open(O_RDWR)
    mine.install_at(3, f)
    other.install_at(3, f)  # a forked child's copy
    mine.install_at(4, f)
    q.notify = Notification(1, mine, 0, 0, 10, 0)
    other.close(3)
    assert q.notify is not None
    mine.close(4)
    assert q.notify is None
    mine.close(3)
    assert q.opens == 0


def test_notification_signal_follows_the_answer_of_the_sending_call() -> None:
    addrs: dict[str, int] = {}

    def prep(m):
        addrs.update(
            name=m.alloc(b"q\0"),
            attr=m.alloc(MQ_ATTR.pack(0, 4, 16, 0)),
            sev=m.alloc(SIGEVENT.pack(42, 10, 0)),
            msg=m.alloc(b"hello"),
            buf=m.alloc(bytes(16)),
            prio=m.alloc(bytes(4)),
        )
        return addrs

    results, _, _, mem = run([
        ("mq_open", ("name", O_RDWR | O_CREAT, 0o600, "attr")),
        ("mq_notify", (3, "sev")),
        ("mq_notify", (3, "sev")),
        ("mq_timedsend", (3, "msg", 5, 7, 0)),
        ("mq_timedsend", (3, "msg", 5, 8, 0)),  # not onto an empty queue: no signal
        ("mq_timedreceive", (3, "buf", 16, "prio", 0)),
        ("mq_timedreceive", (3, "buf", 15, "prio", 0)),
        ("mq_unlink", ("name",)),
        ("mq_unlink", ("name",)),
    ], prep)
    info = SIGINFO_RT.pack(10, 0, SI_MESGQ, FakePlatform.TID, os.getuid(), 42).ljust(128, b"\0")
    assert results == [3, 0, neg(errno.EBUSY), 0, f"siginfo 10 {info.hex()}",
                       0, 5, neg(errno.EMSGSIZE), 0, neg(errno.ENOENT)]
    assert mem.read(addrs["prio"], 4) == struct.pack("<I", 8)
    assert mem.read(addrs["buf"], 5) == b"hello"
