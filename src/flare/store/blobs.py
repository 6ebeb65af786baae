"""Content-addressed storage of function code zips, and their read-only unpacked trees.

Layout under ``root``::

    blobs/sha256/<hex>.zip     the uploaded zip, named by the SHA-256 of its bytes
    code/<hex>/                that zip unpacked, read-only (files 0o444 or 0o555, dirs 0o555)

Both are written to a temporary name and renamed into place, so a reader sees either nothing or
the whole thing, and a crash never leaves a half-written blob or tree under its final name. The
same bytes uploaded twice are stored once. ``validate_zip`` checks a zip before anything is
stored; ``unpacked`` re-checks while extracting and refuses paths escaping the tree (``..``,
absolute names, symlinks pointing outside) and more than 250 MB unzipped.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from flare.errors import InvalidParameterValue

MAX_UNZIPPED_BYTES = 262_144_000
BAD_ZIP_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."
TOO_BIG_MESSAGE = f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
_CHUNK = 1 << 20
# What extracting a corrupt, encrypted or self-colliding zip raises.
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    UnicodeDecodeError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
)


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise InvalidParameterValue(BAD_ZIP_MESSAGE) from None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of a member name; raises InvalidParameterValue if it leaves the tree."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InvalidParameterValue(f"{BAD_ZIP_MESSAGE} Unsafe path in zip: {name}")
    return tuple(part for part in path.parts if part != ".")


def validate_zip(data: bytes) -> int:
    """Raise InvalidParameterValue unless ``data`` is a readable zip that is safe to unpack;
    returns its unzipped size (the sum of its members' sizes).

    Checks the central directory only (names, declared sizes); the data itself is checked by CRC
    when unpacking.
    """
    with _open(data) as archive:
        infos = archive.infolist()
        for info in infos:
            _safe_parts(info.filename)
        size = sum(info.file_size for info in infos)
        if size > MAX_UNZIPPED_BYTES:
            raise InvalidParameterValue(TOO_BIG_MESSAGE)
        return size


def _file_mode(info: zipfile.ZipInfo) -> int:
    return 0o555 if (info.external_attr >> 16) & 0o111 else 0o444


def _extract_file(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(target, "xb") as sink:
        shutil.copyfileobj(source, sink, _CHUNK)
    target.chmod(_file_mode(info))


def _extract(data: bytes, tree: Path) -> None:
    """Unpack ``data`` into the empty directory ``tree``: files and dirs first, symlinks last, so
    no write ever goes through a symlink; then check each link resolves inside ``tree``."""
    links: list[tuple[Path, str]] = []
    with _open(data) as archive:
        infos = archive.infolist()
        if sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
            raise InvalidParameterValue(TOO_BIG_MESSAGE)
        for info in infos:
            parts = _safe_parts(info.filename)
            if not parts:
                continue
            target = tree.joinpath(*parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif _is_symlink(info):
                links.append((target, archive.read(info).decode()))
            else:
                _extract_file(archive, info, target)
    real_tree = os.path.realpath(tree)
    for link, destination in links:
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(destination, link)
    for link, _ in links:
        if os.path.commonpath([real_tree, os.path.realpath(link)]) != real_tree:
            raise InvalidParameterValue(f"{BAD_ZIP_MESSAGE} Symlink points outside the package: {link.name}")


def seal(tree: Path) -> None:
    """Make every directory under ``tree`` (and ``tree``) read-only, deepest first."""
    for directory, _, _ in os.walk(tree, topdown=False):
        os.chmod(directory, 0o555)


def remove_tree(tree: Path) -> None:
    """Delete a possibly read-only tree."""
    if not tree.exists():
        return
    for directory, _, _ in os.walk(tree):
        os.chmod(directory, 0o755)
    shutil.rmtree(tree)


class BlobStore:
    """Code zips by SHA-256 hex digest, and their unpacked trees. See the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs" / "sha256"
        self._code = root / "code"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._code.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"<BlobStore {self.root}>"

    def path(self, digest: str) -> Path:
        """Where the zip with this digest is (or would be) stored. Every read of a zip goes
        through here (a store shared by a cluster's nodes fetches a missing one first)."""
        return self._blobs / f"{digest}.zip"

    def put(self, data: bytes) -> str:
        """Store ``data`` once and return its SHA-256 hex digest. Idempotent."""
        digest = hashlib.sha256(data).hexdigest()
        final = self._blobs / f"{digest}.zip"
        if final.exists():
            return digest
        temporary = self._blobs / f".{digest}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, final)
        return digest

    def tree(self, digest: str) -> Path:
        """Where the unpacked tree of ``digest`` is (or would be)."""
        return self._code / digest

    def unzipped_size(self, digest: str) -> int:
        """The sum of the sizes of the stored zip ``digest``'s members (its central directory's
        word). Raises FileNotFoundError if no such zip is stored."""
        with zipfile.ZipFile(self.path(digest)) as archive:
            return sum(info.file_size for info in archive.infolist())

    def unpacked(self, digest: str) -> Path:
        """The read-only tree of the stored zip ``digest``, unpacking it on first use.

        Raises FileNotFoundError if no such zip is stored, InvalidParameterValue if it is unsafe
        or corrupt (nothing is left behind then).
        """
        final = self._code / digest
        if final.is_dir():
            return final
        data = self.path(digest).read_bytes()
        temporary = self._code / f".{digest}.{uuid.uuid4().hex}.tmp"
        temporary.mkdir()
        try:
            _extract(data, temporary)
            seal(temporary)
        except InvalidParameterValue:
            remove_tree(temporary)
            raise
        except _UNREADABLE:
            remove_tree(temporary)
            raise InvalidParameterValue(BAD_ZIP_MESSAGE) from None
        try:
            os.rename(temporary, final)
        except OSError:
            remove_tree(temporary)
            if not final.is_dir():
                raise
        return final

    def delete_unused(self, keep: set[str]) -> list[str]:
        """Delete every stored zip and tree whose digest is not in ``keep``, and leftovers of
        interrupted writes; return the deleted digests. Call only while no ``put`` or
        ``unpacked`` is running."""
        for leftover in [*self._blobs.glob(".*.tmp"), *self._code.glob(".*.tmp")]:
            if leftover.is_dir():
                remove_tree(leftover)
            else:
                leftover.unlink()
        removed: set[str] = set()
        for blob in self._blobs.glob("*.zip"):
            if blob.stem not in keep:
                blob.unlink()
                removed.add(blob.stem)
        for tree in self._code.iterdir():
            if not tree.name.startswith(".") and tree.name not in keep:
                remove_tree(tree)
                removed.add(tree.name)
        return sorted(removed)
