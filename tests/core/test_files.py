"""read_regular_file: the bounded read of a file the operator names (config, pairs file, snapshot); replace_file:
the atomic write of one (vault, pairs file, config), through a symbolic link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orion_cli.core.files import (
    STALE_TEMP_SECONDS,
    DanglingLink,
    FileRefused,
    GiB,
    MiB,
    read_file_or_stream,
    read_regular_file,
    replace_file,
    size_text,
)


def test_a_regular_file_within_the_cap_is_read_whole(tmp_path: Path) -> None:
    f = tmp_path / "f"
    data = os.urandom(3 * MiB + 7)  # more than one chunk
    f.write_bytes(data)
    assert read_regular_file(f, 3 * MiB + 7) == data
    (tmp_path / "empty").write_bytes(b"")
    assert read_regular_file(tmp_path / "empty", 10) == b""


def test_a_file_above_the_cap_is_refused_by_its_size_unread(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as fh:  # sparse: nothing is written, and nothing may be read
        fh.truncate(2 * GiB + 1)
    with pytest.raises(FileRefused, match=r"^larger than 2 GiB \(2147483649 bytes\)$"):
        read_regular_file(big, 2 * GiB)
    (tmp_path / "small").write_bytes(b"x" * 11)
    with pytest.raises(FileRefused, match="larger than 10 bytes"):
        read_regular_file(tmp_path / "small", 10)


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs Linux /proc")
def test_a_file_whose_size_says_less_than_it_holds_is_still_capped() -> None:
    """/proc files say 0 bytes (as a file still growing may say too little): the read itself stops."""
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(FileRefused, match="larger than 16 bytes"):
        read_regular_file("/proc/self/maps", 16)


@pytest.mark.timeout(30)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match=r"^not a regular file \(a device, FIFO or socket\)$"):
        read_regular_file(fifo, MiB)


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_is_refused_unread(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(FileRefused, match="not a regular file"):
        read_regular_file(device, MiB)  # /dev/zero with a 1 MiB cap: bounded even if it were read


def test_a_directory_and_a_missing_file_raise_as_read_bytes_does(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read_regular_file(tmp_path, MiB)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "nope", MiB)


def test_a_symbolic_link_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_regular_file(tmp_path / "link", MiB) == b"data"


# -- read_file_or_stream: a credential may come through a pipe -----------------------------------


@pytest.mark.timeout(30)
@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")
def test_a_pipe_is_read_until_its_writer_closes_it() -> None:
    """``--value-file <(pass show kalshi)``: bash hands orion /dev/fd/N, a pipe its writer holds; it is
    read as written (a pause included), not refused and not cut short."""
    import threading
    import time

    r, w = os.pipe()

    def write() -> None:
        os.write(w, b"secret-")
        time.sleep(0.2)
        os.write(w, b"value\n")
        os.close(w)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert read_file_or_stream(f"/dev/fd/{r}", MiB) == b"secret-value\n"
    finally:
        writer.join()
        os.close(r)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_unread_not_read_to_the_cap(device: str) -> None:
    """/dev/zero was read until memory ran out (`secrets encrypt --value-file /dev/zero`); /dev/tty would
    wait for typing and echo it. Review: reading any device to the cap let those through."""
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(FileRefused, match=r"^neither a regular file nor a pipe \(a device or socket\)$"):
        read_file_or_stream(device, MiB)


@pytest.mark.timeout(30)
def test_a_named_pipe_nothing_writes_to_reads_as_empty_at_once(tmp_path: Path) -> None:
    """Review: opened blocking, a named pipe with no writer hung the read (a cron job, for ever)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_file_or_stream(fifo, MiB) == b""


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")
def test_a_pipe_above_the_cap_is_refused() -> None:
    r, w = os.pipe()  # as bash hands over `<(cmd)`: /dev/fd/N
    os.write(w, b"x" * 11)
    os.close(w)
    try:
        with pytest.raises(FileRefused, match=r"^larger than 10 bytes$"):
            read_file_or_stream(f"/dev/fd/{r}", 10)
    finally:
        os.close(r)


def test_a_regular_file_is_read_as_read_regular_file_reads_it(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"0123456789")
    assert read_file_or_stream(tmp_path / "f", 10) == b"0123456789"
    with pytest.raises(FileRefused, match=r"^larger than 9 bytes \(10 bytes\)$"):
        read_file_or_stream(tmp_path / "f", 9)
    with pytest.raises(IsADirectoryError):
        read_file_or_stream(tmp_path, MiB)
    with pytest.raises(FileNotFoundError):
        read_file_or_stream(tmp_path / "nope", MiB)


@pytest.mark.parametrize(("n", "text"), [(16 * MiB, "16 MiB"), (2 * GiB, "2 GiB"), (1500, "1500 bytes")])
def test_size_text(n: int, text: str) -> None:
    assert size_text(n) == text


def test_replace_file_writes_through_a_chain_of_links_keeping_the_file_s_mode(tmp_path: Path) -> None:
    tmp_path = tmp_path / "w"  # beside the test's own ORION_HOME
    tmp_path.mkdir()
    """The file a link names is replaced (atomically, its temp file beside it) and the links stay links;
    the new content keeps the mode the file had, or the mode asked for."""
    (tmp_path / "shared").mkdir()
    target = tmp_path / "shared" / "pairs.toml"
    target.write_text("old")
    target.chmod(0o640)
    middle = tmp_path / "middle.toml"
    middle.symlink_to("shared/pairs.toml")  # relative: taken from the link's directory
    (tmp_path / "home").mkdir()
    link = tmp_path / "home" / "pairs.toml"
    link.symlink_to(middle)
    assert replace_file(link, b"new") == target
    assert link.is_symlink() and middle.is_symlink() and target.read_bytes() == b"new"
    assert (target.stat().st_mode & 0o777) == 0o640
    replace_file(link, b"newer", mode=0o600)
    assert (target.stat().st_mode & 0o777) == 0o600 and target.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["home", "middle.toml", "pairs.toml", "pairs.toml",
                                                          "shared"]
    fresh = tmp_path / "fresh"
    replace_file(fresh, b"x")
    assert (fresh.stat().st_mode & 0o777) == 0o600  # a new file: private


def test_replace_file_refuses_a_link_to_nothing_and_never_creates_its_target(tmp_path: Path) -> None:
    tmp_path = tmp_path / "w"  # beside the test's own ORION_HOME
    tmp_path.mkdir()
    link = tmp_path / "vault.json"
    link.symlink_to(tmp_path / "unmounted" / "vault.json")
    with pytest.raises(DanglingLink, match=r"symbolic link to .*unmounted/vault\.json, which does not exist"):
        replace_file(link, b"x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(DanglingLink, match="a loop of links"):
        replace_file(loop, b"x")
    assert link.is_symlink() and loop.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == [
        "loop", "vault.json"]


def test_replace_file_never_replaces_what_is_not_a_regular_file(tmp_path: Path) -> None:
    tmp_path = tmp_path / "w"  # beside the test's own ORION_HOME
    tmp_path.mkdir()
    """A link to /dev/null (or a FIFO) is refused: written through, root renamed a file over the device."""
    link = tmp_path / "pairs.toml"
    link.symlink_to("/dev/null")
    with pytest.raises(FileRefused, match="not a regular file"):
        replace_file(link, b"x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match="not a regular file"):
        replace_file(fifo, b"x")
    with pytest.raises(IsADirectoryError):
        replace_file(tmp_path, b"x")
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "pairs.toml"]


def test_replace_file_removes_the_temp_files_killed_writes_left_once_they_are_stale(tmp_path: Path) -> None:
    """Found by a crash review: a write killed before its rename left `.pairs.toml.x4kvrkb8.tmp` (and a
    vault's, snapshots' up to 2 GiB) beside the file for good. The next write removes those old enough that
    no write in progress can own them; another file's temp files, and anything else, are left."""
    target = tmp_path / "pairs.toml"
    target.write_text("old\n")
    stale, young = tmp_path / ".pairs.toml.x4kvrkb8.tmp", tmp_path / ".pairs.toml.abcd_123.tmp"
    others = [tmp_path / ".other.toml.x4kvrkb8.tmp", tmp_path / ".pairs.toml.x4kvrkb8.tmp.keep",
              tmp_path / ".pairs.toml.long-name.tmp", tmp_path / "pairs.toml.20261125T030333Z.bak"]
    for p in (stale, young, *others):
        p.write_text("left by a killed write\n")
    old = os.stat(stale).st_mtime - STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    for p in others:
        os.utime(p, (old, old))
    replace_file(target, b"new\n")
    assert target.read_text() == "new\n"
    assert not stale.exists() and young.exists() and all(p.exists() for p in others)
    replace_file(target, b"newer\n", stale_after=0)  # a caller holding every writer's lock
    assert not young.exists() and all(p.exists() for p in others)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "pairs"))) == sorted(
        [target.name, *(p.name for p in others)])
