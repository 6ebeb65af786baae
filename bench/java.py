"""Java beside Python (``bench.beside_python``): ``java17`` on the host's JDK 17, a static
``example.Hello::handle`` compiled here with the host's ``javac``, at 128 MB; its "later" cold
start waits 1.5 s, when the update's spare (a JVM) has booted."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

from bench.beside_python import Beside

JAVA_SOURCE = """
package example;

import java.util.Map;

public class Hello {
    public static Map<String, Object> handle() {
        return Map.of("ok", true);
    }
}
"""


def java_zip(tmp: Path) -> bytes:
    """The hello-world's classes, compiled with the host's ``javac`` (OSError without one)."""
    javac = shutil.which("javac")
    if javac is None:
        raise OSError("no javac on this host")
    source = tmp / "src" / "example" / "Hello.java"
    source.parent.mkdir(parents=True)
    source.write_text(JAVA_SOURCE)
    subprocess.run([javac, "--release", "17", "-d", str(tmp / "out"), str(source)], check=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp / "out" / "example" / "Hello.class", "example/Hello.class")
    return buffer.getvalue()


JAVA = Beside("java", "Java", "java17", "example.Hello::handle", 128, 1.5, java_zip)
