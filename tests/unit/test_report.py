"""The run recorder (--report), explore's stubbed/faked calls, merging and the store."""

from __future__ import annotations

import errno
import json

from compatd import report as rep
from compatd import store
from compatd.kernel.kernel import Kernel
from compatd.report import Recorder, gaps, merge
from syscalls.numbers import NUMBERS
from tests.unit.fakeplatform import FakePlatform
from tests.unit.test_kernel import FakePlan, Sink
from vfs.mount import MountTable
from vfs.tmpfs import TmpFS

AT_FDCWD = -100 & 0xFFFFFFFF
O_RDWR, O_CREAT, O_CLOEXEC = 2, 0o100, 0o2000000
F_GETFD, F_SETSIG = 1, 10
TCGETS = 0x5401


def run(calls, prepare=None, recorder=None, overrides=None):
    platform = FakePlatform([])
    addrs = prepare(platform.mem) if prepare else {}
    platform.calls = [(name, tuple(addrs.get(a, a) if isinstance(a, str) else a for a in args))
                      for name, args in calls]
    ns = MountTable(TmpFS())
    kernel = Kernel(platform, ns, strict=True, recorder=recorder, overrides=overrides)
    kernel.start(FakePlan(), ns.root_dentry(), {0: Sink(), 1: Sink(), 2: Sink()})
    kernel.tasks[FakePlatform.TID].pending_exec = None
    kernel.run()
    return platform.results, kernel


def paths(m):
    return {"f": m.alloc(b"/f\0"), "proc": m.alloc(b"/proc/nope\0")}


SCRIPT = [
    ("getpid", ()),
    ("getpid", ()),
    ("getpid", ()),
    ("openat", (AT_FDCWD, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)),
    ("openat", (AT_FDCWD, "proc", 0, 0)),
    ("fcntl", (3, F_GETFD, 0)),
    ("fcntl", (1, F_SETSIG, 0)),
    ("ioctl", (3, TCGETS, 0)),
    ("io_uring_setup", (1, 0)),
    ("close", (99,)),
    ("mmap", (0, 4096, 3, 0x22, -1 & 0xFFFFFFFF, 0)),
]


def recorded():
    rec = Recorder(["prog", "arg"])
    results, kernel = run(SCRIPT, paths, recorder=rec)
    return rec.report(kernel, 0), results


def test_without_a_recorder_the_loop_is_untouched():
    _, kernel = run([("getpid", ())])
    assert "on_syscall" not in vars(kernel) and "finish" not in vars(kernel)


def test_counts_errors_and_flags():
    doc, results = recorded()
    assert results[:3] == [FakePlatform.TID] * 3
    s = doc["syscalls"]
    assert s["getpid"]["calls"] == 3 and s["getpid"]["errors"] == {}
    assert s["openat"]["calls"] == 2 and s["openat"]["errors"] == {"ENOENT": 1}
    flags = s["openat"]["flags"]["flags"]
    assert flags["union"] == "O_CREAT|O_CLOEXEC" and flags["field"] == {"O_RDWR": 1,
                                                                          "O_RDONLY": 1}
    assert s["close"]["errors"] == {"EBADF": 1}
    assert s["io_uring_setup"]["errors"] == {"ENOSYS": 1}
    assert s["io_uring_setup"]["level"] == "enosys"
    assert s["mmap"]["calls"] == 1 and s["mmap"]["flags"]["flags"]["field"] == {"MAP_PRIVATE": 1}
    assert doc["total_calls"] == len(SCRIPT)
    json.dumps(doc)  # serialisable


def test_operations_unsupported_and_files():
    doc, _ = recorded()
    assert doc["fcntl"] == {"F_GETFD": 1, "F_SETSIG": 1}
    assert doc["ioctl"] == {"TCGETS": 1}
    assert doc["unsupported"] == {"fcntl: F_SETSIG": 1}
    assert doc["syscalls"]["fcntl"]["unsupported"] == {"F_SETSIG": 1}
    assert doc["files"] == {"/proc/nope": {"opens": 0, "errors": {"ENOENT": 1}}}


def test_per_process_and_thread():
    doc, _ = recorded()
    [proc] = doc["processes"]
    assert proc["tgid"] == FakePlatform.TID and proc["calls"] == len(SCRIPT)
    assert proc["threads"][0]["syscalls"]["getpid"] == 3
    assert doc["wall_s"] >= 0 and set(doc["cpu_s"]) == {
        "supervisor_user", "supervisor_system", "children_user", "children_system"}


def test_stub_and_fake_overrides():
    rec = Recorder(["prog"])
    results, _ = run([("getpid", ()), ("getppid", ()), ("gettid", ())], recorder=rec,
                     overrides={NUMBERS["getpid"]: "enosys", NUMBERS["getppid"]: "fake"})
    assert results == [-errno.ENOSYS, 0, FakePlatform.TID]
    doc = rec.report()
    assert doc["syscalls"]["getpid"]["errors"] == {"ENOSYS": 1}
    results, _ = run([("getpid", ())], overrides={NUMBERS["getpid"]: "fake"})
    assert results == [0]


def test_merge_adds_and_ors():
    a, _ = recorded()
    b, _ = recorded()
    b["program"] = "other"
    b["syscalls"]["openat"]["flags"]["flags"]["bits"] |= 0o1000  # O_TRUNC
    m = merge([a, b])
    assert len(m["runs"]) == 2 and m["total_calls"] == 2 * len(SCRIPT)
    assert m["syscalls"]["getpid"]["calls"] == 6
    assert m["syscalls"]["openat"]["errors"] == {"ENOENT": 2}
    assert m["syscalls"]["openat"]["flags"]["flags"]["union"] == "O_CREAT|O_TRUNC|O_CLOEXEC"
    assert m["syscalls"]["openat"]["programs"] == ["other", "prog"]
    assert m["fcntl"] == {"F_GETFD": 2, "F_SETSIG": 2}
    assert m["files"]["/proc/nope"]["errors"] == {"ENOENT": 2}
    assert merge([m])["syscalls"]["getpid"]["calls"] == 6  # a merged report merges again


def test_gaps_come_first_and_name_the_unsupported_case():
    doc, _ = recorded()
    g = gaps(merge([doc]))
    names = [x["name"] for x in g]
    assert names[0] == "io_uring_setup"  # missing first
    fcntl = next(x for x in g if x["name"] == "fcntl")
    assert fcntl["level"] == "partial" and fcntl["unsupported_hit"] == {"F_SETSIG": 1}
    assert "getpid" not in names


def test_renderers(tmp_path):
    doc, _ = recorded()
    m = merge([doc])
    md = rep.render_markdown(m)
    assert md.index("## Gaps") < md.index("## Everything used")
    assert "F_SETSIG" in md and "io_uring_setup" in md
    page = rep.render_html(m)
    assert page.count('"nr":') == 384


def test_store_roundtrip(tmp_path):
    doc, _ = recorded()
    db = tmp_path / "r.db"
    with store.connect(db) as con:
        store.add_run(con, doc)
        other = dict(doc, program="/bin/other")
        store.add_run(con, other)
        store.add_exploration(con, {"program": "prog", "argv": ["prog"], "judge": "output",
                                    "syscalls": {"getpid": {"calls": 3, "stub": "ok",
                                                            "fake": "ok", "class": "stubbable"}}})
    with store.connect(db) as con:
        assert len(store.run_reports(con)) == 2
        assert len(store.run_reports(con, program="other")) == 1
        assert len(store.run_reports(con, syscall="getpid")) == 2
        assert store.run_reports(con, syscall="socket") == []
        [ex] = store.explorations(con)
        assert ex["name"] == "getpid" and ex["stubbable"] == 1


def test_clear_override_drops_flag_bits():
    """explore --flags: ("clear", arg, bits) removes the bits before the handler sees them."""
    nr = NUMBERS["openat"]
    results, _ = run([("openat", (AT_FDCWD, "f", O_RDWR | O_CREAT, 0o644))], paths,
                     overrides={nr: ("clear", 2, O_CREAT)})
    assert results == [-errno.ENOENT]
    results, _ = run([("openat", (AT_FDCWD, "f", O_RDWR | O_CREAT, 0o644))], paths,
                     overrides={nr: ("clear", 2, O_CLOEXEC)})
    assert results == [3]
