"""Java test functions, compiled with the host's ``javac`` as a user's build would make them:
the handler's classes plus a minimal copy of ``aws-lambda-java-core`` (the
``com.amazonaws.services.lambda.runtime`` interfaces a function carries itself), zipped with the
classes at the root or in ``lib/*.jar``. The core is the one of ``aws-lambda-java-core`` 1.2.3 and
later: ``LambdaLogger`` has the leveled ``log`` methods (defaults that drop the level) and
``logging.LogLevel``, and ``LambdaRuntime`` has the static logger its runtime sets."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

CORE_PACKAGE = "com/amazonaws/services/lambda/runtime"
CORE = {
    "Context.java": """
public interface Context {
    String getAwsRequestId();
    String getLogGroupName();
    String getLogStreamName();
    String getFunctionName();
    String getFunctionVersion();
    String getInvokedFunctionArn();
    CognitoIdentity getIdentity();
    ClientContext getClientContext();
    int getRemainingTimeInMillis();
    int getMemoryLimitInMB();
    LambdaLogger getLogger();
}""",
    "LambdaLogger.java": """
public interface LambdaLogger {
    void log(String message);
    void log(byte[] message);
    default void log(String message, com.amazonaws.services.lambda.runtime.logging.LogLevel level) {
        log(message);
    }
    default void log(byte[] message, com.amazonaws.services.lambda.runtime.logging.LogLevel level) {
        log(message);
    }
}""",
    "LambdaRuntime.java": """
public final class LambdaRuntime {
    private LambdaRuntime() {}

    private static volatile LambdaLogger logger = new LambdaLogger() {
        public void log(String message) {
            System.out.print(message);
        }

        public void log(byte[] message) {
            System.out.write(message, 0, message.length);
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}""",
    "logging/LogLevel.java": """
public enum LogLevel { UNDEFINED, TRACE, DEBUG, INFO, WARN, ERROR, FATAL }""",
    "CognitoIdentity.java": """
public interface CognitoIdentity {
    String getIdentityId();
    String getIdentityPoolId();
}""",
    "Client.java": """
public interface Client {
    String getInstallationId();
    String getAppTitle();
    String getAppVersionName();
    String getAppVersionCode();
    String getAppPackageName();
}""",
    "ClientContext.java": """
public interface ClientContext {
    Client getClient();
    java.util.Map<String, String> getCustom();
    java.util.Map<String, String> getEnvironment();
}""",
    "RequestHandler.java": """
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}""",
    "RequestStreamHandler.java": """
public interface RequestStreamHandler {
    void handleRequest(java.io.InputStream input, java.io.OutputStream output, Context context)
        throws java.io.IOException;
}""",
}
HEADER = "package com.amazonaws.services.lambda.runtime;\n"


def header(name: str) -> str:
    """The package line of the core's file ``name`` (``logging/...`` is a subpackage)."""
    package = name.rpartition("/")[0]
    return HEADER.replace(";", "." + package.replace("/", ".") + ";") if package else HEADER


def have_javac() -> bool:
    return shutil.which("javac") is not None


def compile_classes(
    sources: Mapping[str, str], with_core: bool = True, classpath: tuple[str, ...] = ()
) -> dict[str, bytes]:
    """``{path.java: source}`` compiled (``--release 17``, ``-g``: with local variables for a
    debugger, against the jars of ``classpath``), with the core interfaces unless ``with_core``
    is False: ``{path.class: bytes}``, the core's included."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "src"), Path(tmp, "out")
        files = dict(sources)
        if with_core:
            files.update({f"{CORE_PACKAGE}/{name}": header(name) + text for name, text in CORE.items()})
        for path, text in files.items():
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            (src / path).write_text(text)
        command = ["javac", "--release", "17", "-g", "-nowarn", "-d", str(out)]
        if classpath:
            command += ["-cp", ":".join(classpath)]
        command += [str(src / p) for p in files]
        subprocess.run(command, check=True, capture_output=True, text=True)
        return {str(f.relative_to(out)): f.read_bytes() for f in out.rglob("*.class")}


@functools.lru_cache(maxsize=64)
def _compiled(
    sources: tuple[tuple[str, str], ...], classpath: tuple[str, ...]
) -> tuple[tuple[str, bytes], ...]:
    return tuple(sorted(compile_classes(dict(sources), classpath=classpath).items()))


def jar(classes: Mapping[str, bytes]) -> bytes:
    """A jar (a zip with a manifest) of ``classes``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for path, data in sorted(classes.items()):
            archive.writestr(path, data)
    return buffer.getvalue()


def java_zip(
    sources: Mapping[str, str], layout: str = "root", libraries: tuple[str, ...] = ()
) -> dict[str, bytes]:
    """The files of a function's zip: ``sources`` compiled with the core interfaces (and against
    the jars ``libraries``, which the zip carries in ``lib/``), the classes at the root
    (``layout="root"``), or in ``lib/function.jar`` (``"lib"``)."""
    classes = dict(_compiled(tuple(sorted(sources.items())), libraries))
    files = {f"lib/{Path(library).name}": Path(library).read_bytes() for library in libraries}
    if layout == "lib":
        return {**files, "lib/function.jar": jar(classes)}
    return {**files, **classes}
