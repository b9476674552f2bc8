"""bench/measure.py - CPU time and memory of all of one MTA's processes, for bench/run.

The MTA is started inside a cgroup of its own (Group.enter() runs in the start command's
child before exec), so every process it ever forks is accounted there, including children
that have exited long before the reading. Three back ends, chosen in this order:

  cgroup v2   cpu.stat usage_usec; memory.current minus memory.stat "file" and
              "slab_reclaimable"
  cgroup v1   cpuacct.usage (ns); memory.stat total_rss + memory.kmem.usage_in_bytes
              (the same as memory.usage_in_bytes minus the page cache, without its
              per-CPU batching error); v1 does not split off reclaimable slab, so the
              dentries and inodes of the files the MTA created are counted here
  /proc       fallback without cgroups: the master's pid file and its descendants;
              CPU = utime+stime+cutime+cstime of the master (cutime covers its reaped
              children) plus those of the live children; memory = sum of their PSS

"Memory" is always the MTA's own memory without the page cache: anonymous memory plus kernel
memory charged to it (process kernel stacks, page tables, socket buffers, slab). The page
cache is left out because it holds file data (queue files, Maildir files) that the kernel
shares and evicts at will (v2 also leaves out reclaimable slab: dentry and inode caches).
PSS (smaps_rollup) is also offered as a cross-check: user space
memory only, shared pages divided among their users.

Group names start with "postern-bench-"; a group is created under the bench's own cgroup
(v1) or at the v2 root and removed by remove() once empty.
"""

import os
import threading
import time

PREFIX = "postern-bench-"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path):
    with open(path) as f:
        return f.read()


def _stat_fields(path):
    fields = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        fields[key] = int(value)
    return fields


def _own_cgroup_paths():
    """Controller name -> this process's cgroup path (v2 under the key "")."""
    paths = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            paths[c] = path
    return paths


def _cgroup_mounts():
    """Controller name -> mount point of its v1 hierarchy, "" -> the v2 mount."""
    mounts = {}
    for line in _read("/proc/self/mountinfo").splitlines():
        pre, _, post = line.partition(" - ")
        fstype, _, opts = post.split(" ", 2)
        point = pre.split(" ")[4]
        if fstype == "cgroup2":
            mounts.setdefault("", point)
        elif fstype == "cgroup":
            for opt in opts.split(" ")[-1].split(","):
                if opt in ("memory", "cpuacct"):
                    mounts[opt] = point
    return mounts


def _pss_kib(pid):
    try:
        for line in _read("/proc/%d/smaps_rollup" % pid).splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Group:
    """One MTA's processes: create(name) picks the back end; use enter as preexec_fn."""

    kind = "none"

    def pids(self):
        raise NotImplementedError

    def pss_bytes(self):
        return sum(_pss_kib(pid) for pid in self.pids()) * 1024

    def enter(self):
        pass

    def remove(self, wait=10.0):
        """Wait until no process is left; True if none was (the MTA stopped cleanly)."""
        deadline = time.monotonic() + wait
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


class CgroupV2(Group):
    kind = "cgroup v2"

    def __init__(self, path):
        self.path = path

    @classmethod
    def create(cls, name):
        mounts = _cgroup_mounts()
        root = mounts.get("")
        if not root or not os.path.exists(os.path.join(root, "cgroup.controllers")):
            return None
        available = _read(os.path.join(root, "cgroup.controllers")).split()
        if "memory" not in available:
            return None
        subtree = os.path.join(root, "cgroup.subtree_control")
        if "memory" not in _read(subtree).split():
            try:
                with open(subtree, "w") as f:
                    f.write("+memory")
            except OSError:
                return None
        path = os.path.join(root, PREFIX + name)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError:
            return None
        return cls(path)

    def enter(self):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write("0")

    def pids(self):
        return [int(p) for p in _read(os.path.join(self.path, "cgroup.procs")).split()]

    def cpu_seconds(self):
        return _stat_fields(os.path.join(self.path, "cpu.stat"))["usage_usec"] / 1e6

    def memory_bytes(self):
        current = int(_read(os.path.join(self.path, "memory.current")))
        stat = _stat_fields(os.path.join(self.path, "memory.stat"))
        return current - stat["file"] - stat.get("slab_reclaimable", 0)

    def remove(self, wait=10.0):
        clean = super().remove(wait)
        try:
            os.rmdir(self.path)
        except OSError:
            pass
        return clean


class CgroupV1(Group):
    kind = "cgroup v1"

    def __init__(self, memory, cpuacct):
        self.memory = memory
        self.cpuacct = cpuacct

    @classmethod
    def create(cls, name):
        mounts = _cgroup_mounts()
        own = _own_cgroup_paths()
        if "memory" not in mounts or "cpuacct" not in mounts:
            return None
        made = []
        for c in ("memory", "cpuacct"):
            path = os.path.join(mounts[c] + own.get(c, "/"), PREFIX + name)
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except OSError:
                for p in made:
                    os.rmdir(p)
                return None
            made.append(path)
        return cls(*made)

    def enter(self):
        for path in (self.memory, self.cpuacct):
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def pids(self):
        return [int(p) for p in _read(os.path.join(self.memory, "cgroup.procs")).split()]

    def cpu_seconds(self):
        return int(_read(os.path.join(self.cpuacct, "cpuacct.usage"))) / 1e9

    def memory_bytes(self):
        stat = _stat_fields(os.path.join(self.memory, "memory.stat"))
        kmem = os.path.join(self.memory, "memory.kmem.usage_in_bytes")
        if os.path.exists(kmem):
            return stat["total_rss"] + int(_read(kmem))
        usage = int(_read(os.path.join(self.memory, "memory.usage_in_bytes")))
        return usage - stat["total_cache"]

    def remove(self, wait=10.0):
        clean = super().remove(wait)
        for path in (self.memory, self.cpuacct):
            try:
                os.rmdir(path)
            except OSError:
                pass
        return clean


class ProcTree(Group):
    """No cgroups: the master (from its pid file) and its descendants."""

    kind = "/proc (master + descendants)"

    def __init__(self, pidfile):
        self.pidfile = pidfile

    def _master(self):
        try:
            return int(_read(self.pidfile).split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def _stat(pid):
        try:
            text = _read("/proc/%d/stat" % pid)
        except OSError:
            return None
        return text[text.rindex(")") + 2 :].split()

    def pids(self):
        master = self._master()
        if not master or self._stat(master) is None:
            return []
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = self._stat(int(entry))
                if st:
                    children.setdefault(int(st[1]), []).append(int(entry))
        found, todo = [], [master]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self):
        ticks = 0
        for pid in self.pids():
            st = self._stat(pid)
            if st:
                ticks += sum(int(x) for x in st[11:15])  # utime stime cutime cstime
        return ticks / CLK_TCK

    def memory_bytes(self):
        return self.pss_bytes()


def create(name, pidfile, mode="auto"):
    """A Group for the MTA called name: cgroup v2, then v1, then /proc (or as mode says)."""
    if mode in ("auto", "cgroup"):
        for cls in (CgroupV2, CgroupV1):
            group = cls.create(name)
            if group:
                return group
        if mode == "cgroup":
            raise SystemExit("bench: no usable cgroup (BENCH_MEASURE=cgroup)")
    return ProcTree(pidfile)


class PeakSampler:
    """Samples the group's memory in a thread: .peak (memory_bytes, every interval) and
    .peak_pss (pss_bytes, every pss_every-th sample, as reading smaps costs more)."""

    def __init__(self, group, interval, pss_every=5):
        self.group = group
        self.interval = interval
        self.pss_every = pss_every
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.group.memory_bytes())
                if n % self.pss_every == 0:
                    self.peak_pss = max(self.peak_pss, self.group.pss_bytes())
            except OSError:
                pass
            n += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
