"""epoll instances (fs/eventpoll.c): interests, the ready list, level and edge triggering.

An interest (``EpItem``) is keyed by (open file description, fd number) as on Linux, and
subscribes to the description's wait queues; a wakeup puts it on the instance's ready list.
``send_events`` polls the ready items again: a level-triggered item that is still ready goes
back on the list, an edge-triggered one waits for the next wakeup, a one-shot one is
disabled until EPOLL_CTL_MOD. So an edge-triggered interest in a pipe reports again after
every write, as natively.

A description without wait queues (a host fd: the terminal, a host pipe) is compared
instead: level-triggered interests are polled each time; edge-triggered ones report when
readiness bits appear that were not there at the last look. Those whose readiness is the
host's poll(2) answer for a host fd (host sockets: ``OpenFile.host_poll``) are asked all
at once, in one poll(2) per look, not one per interest: a server with a thousand
connections does one host call per epoll_wait.

When the last descriptor of a description closes, its interests go from every instance
(``eventpoll_release``); an instance is itself pollable (POLLIN while it has events), so
instances nest.
"""

from __future__ import annotations

import errno
import select

from compatd.errors import KernelError
from vfs.anonfs import AnonFile
from vfs.base import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, OpenFile, WaitQueue

EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31
EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
EPOLLEXCLUSIVE_OK_BITS = (POLLIN | POLLOUT | POLLERR | POLLHUP | EPOLLWAKEUP | EPOLLET
                          | EPOLLEXCLUSIVE)
EP_MAX_NESTS = 4


_NO_SNAPSHOT: dict[int, int] = {}


class EpItem:
    __slots__ = ("ep", "file", "fd", "events", "data", "queues", "last", "host")

    def __init__(self, ep: EpollFile, file: OpenFile, fd: int, events: int, data: int) -> None:
        self.ep = ep
        self.file = file
        self.fd = fd
        self.events = events
        self.data = data
        self.queues = file.wait_queues()
        self.last = 0  # readiness at the last look (descriptions without wait queues)
        self.host: int | None = None  # the host fd in the instance's host poll set

    def enabled(self) -> bool:
        return bool(self.events & ~EP_PRIVATE_BITS)

    def wakeup(self, mask: int) -> None:
        """ep_poll_callback: a disabled one-shot item or a wakeup for other events is
        ignored; otherwise the item goes on the ready list."""
        if not self.events & ~EP_PRIVATE_BITS:
            return
        if mask and not mask & self.events:
            return
        self.ep.make_ready(self)

    def poll(self) -> int:
        """ep_item_poll: the file's readiness within the events asked for."""
        return self.file.poll() & self.events


class EpollFile(AnonFile):
    anon_name = b"[eventpoll]"

    def __init__(self) -> None:
        super().__init__(0)
        self.items: dict[tuple[int, int], EpItem] = {}
        self.ready: dict[EpItem, None] = {}  # the ready list, in order
        self.unqueued: dict[EpItem, None] = {}  # items compared at each look
        # The host fds of unqueued items with ``host_poll`` (fd -> items on it), asked in
        # one poll(2) per look.
        self.host_fds: dict[int, int] = {}
        self.host_poller = select.poll()

    # the ready list -----------------------------------------------------------------------
    def make_ready(self, item: EpItem) -> None:
        if item not in self.ready:
            self.ready[item] = None
            # Instances watching this one hear of it (ep_poll_safewake).
            self.waitq.wake(POLLIN)

    def look(self) -> dict[int, int]:
        """Compare the items that have no wait queue with their last readiness. Returns
        the host's answer for the host fds (fd -> revents; a ready fd only), which is the
        readiness of their items for the rest of this look (``revents``)."""
        snapshot = dict(self.host_poller.poll(0)) if self.host_fds else _NO_SNAPSHOT
        for item in self.unqueued:
            events = item.events
            if not events & ~EP_PRIVATE_BITS:  # a disabled one-shot item
                continue
            host = item.host
            now = item.poll() if host is None else snapshot.get(host, 0) & events
            if events & EPOLLET:
                if now & ~item.last:
                    self.make_ready(item)
            elif now:
                self.make_ready(item)
            item.last = now
        return snapshot

    @staticmethod
    def revents(item: EpItem, snapshot: dict[int, int]) -> int:
        """The item's readiness within its events (``EpItem.poll``), from the look's
        snapshot for an item on a host fd."""
        host = item.host
        return item.poll() if host is None else snapshot.get(host, 0) & item.events

    def has_events(self) -> bool:
        snapshot = self.look()
        revents = self.revents
        return any(revents(item, snapshot) for item in list(self.ready))

    def poll(self) -> int:
        return POLLIN | POLLRDNORM if self.has_events() else 0

    def arm_wakeup(self, kernel: object, events: int) -> None:
        """Items on host fds need the loop to watch them while a caller waits."""
        for item in self.unqueued:
            if item.enabled():
                item.file.arm_wakeup(kernel, item.events & ~EP_PRIVATE_BITS)
        for item in self.items.values():
            if isinstance(item.file, EpollFile):
                item.file.arm_wakeup(kernel, events)

    def collect(self, maxevents: int) -> list[tuple[EpItem, int]]:
        """The events ep_send_events would report now (nothing is changed yet)."""
        snapshot = self.look()
        revents = self.revents
        out: list[tuple[EpItem, int]] = []
        for item in list(self.ready):
            if len(out) >= maxevents:
                break
            ready = revents(item, snapshot)
            if ready:
                out.append((item, ready))
        return out

    def commit(self, reported: list[tuple[EpItem, int]]) -> None:
        """After the events were copied out: items seen not ready leave the list, reported
        level-triggered items go to its end, edge-triggered and one-shot ones leave it;
        items past ``maxevents`` stay in front."""
        if not reported:
            self.ready = {}  # every item was polled and found not ready
            return
        done = {item for item, _ in reported}
        last = reported[-1][0]
        keep: list[EpItem] = []
        seen_last = False
        for item in self.ready:
            if item in done:
                if item is last:
                    seen_last = True
                continue
            if seen_last:
                keep.append(item)  # not reached by this call
            # else: polled, not ready: dropped
        again: list[EpItem] = []
        for item, _ in reported:
            if item.events & EPOLLONESHOT:
                item.events &= EP_PRIVATE_BITS
            elif not item.events & EPOLLET:
                again.append(item)
        self.ready = dict.fromkeys(keep + again)

    # interests --------------------------------------------------------------------------
    def find(self, f: OpenFile, fd: int) -> EpItem | None:
        return self.items.get((id(f), fd))

    def insert(self, f: OpenFile, fd: int, events: int, data: int) -> None:
        item = EpItem(self, f, fd, events | POLLERR | POLLHUP, data)
        self.items[(id(f), fd)] = item
        watchers = f.__dict__.setdefault("ep_items", {})
        watchers[item] = None
        if item.queues:
            for q in item.queues:
                q.entries[item] = None
        else:
            self.unqueued[item] = None
            host = f.host_poll()
            if host is not None:
                hfd, host_events = host
                item.host = hfd
                n = self.host_fds.get(hfd, 0)
                if not n:
                    self.host_poller.register(hfd, host_events)
                self.host_fds[hfd] = n + 1
        now = item.poll()
        item.last = now
        if now:
            self.make_ready(item)

    def modify(self, item: EpItem, events: int, data: int) -> None:
        item.events = events | POLLERR | POLLHUP
        item.data = data
        now = item.poll()
        item.last = now
        if now:
            self.make_ready(item)

    def remove(self, item: EpItem) -> None:
        self.items.pop((id(item.file), item.fd), None)
        self.ready.pop(item, None)
        self.unqueued.pop(item, None)
        host = item.host
        if host is not None:
            item.host = None
            n = self.host_fds[host] - 1
            if n:
                self.host_fds[host] = n
            else:
                del self.host_fds[host]
                self.host_poller.unregister(host)
        for q in item.queues:
            q.entries.pop(item, None)
        watchers = item.file.__dict__.get("ep_items")
        if watchers is not None:
            watchers.pop(item, None)

    def release(self) -> None:
        for item in list(self.items.values()):
            self.remove(item)

    # nesting ------------------------------------------------------------------------------
    def depth_below(self, target: EpollFile, seen: set[int]) -> int:
        """How deep the instances under this one go; a huge number if ``target`` is
        among them (a loop)."""
        if self is target:
            return 1 << 30
        if id(self) in seen:
            return 0
        seen.add(id(self))
        depth = 0
        for item in self.items.values():
            if isinstance(item.file, EpollFile):
                depth = max(depth, 1 + item.file.depth_below(target, seen))
        return depth

    def depth_above(self) -> int:
        watchers = self.__dict__.get("ep_items") or {}
        return max((1 + item.ep.depth_above() for item in watchers), default=0)


def would_loop(ep: EpollFile, to: EpollFile) -> bool:
    """ep_loop_check: adding instance ``to`` to ``ep`` closes a loop or nests too deep."""
    depth = to.depth_below(ep, set())
    return depth + 1 + ep.depth_above() > EP_MAX_NESTS


def eventpoll_release(f: OpenFile) -> None:
    """The description's last descriptor closed: its interests leave every instance."""
    watchers = f.__dict__.get("ep_items")
    if watchers:
        for item in list(watchers):
            item.ep.remove(item)


def epoll_of(f: OpenFile) -> EpollFile:
    if not isinstance(f, EpollFile):
        raise KernelError(errno.EINVAL, "not an epoll file")
    return f


__all__ = ["EpItem", "EpollFile", "WaitQueue", "eventpoll_release", "would_loop"]
