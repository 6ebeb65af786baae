package flare.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Throwable as Lambda's Java runtime reports it: {@code errorMessage} (left out when the
 * throwable has none), {@code errorType} (its class's binary name), {@code stackTrace} (one
 * {@code "Class.method(File.java:N)"} string a frame, the runtime's own frames and the reflection
 * that called the handler cut off) and {@code cause}, the same shape, when there is one.
 */
final class ErrorReport {
    private static final String OWN_PACKAGE = "flare.runtime.";

    private ErrorReport() {
    }

    static Map<String, Object> of(Throwable error) {
        Map<String, Object> report = new LinkedHashMap<>();
        if (error.getMessage() != null) report.put("errorMessage", error.getMessage());
        report.put("errorType", error.getClass().getName());
        report.put("stackTrace", frames(error));
        Throwable cause = error.getCause();
        if (cause != null && cause != error) report.put("cause", of(cause));
        return report;
    }

    /** An error made by the runtime itself (no stack of the user's to show). */
    static Map<String, Object> plain(String type, String message) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("errorMessage", message);
        report.put("errorType", type);
        report.put("stackTrace", new ArrayList<>());
        return report;
    }

    static List<String> frames(Throwable error) {
        List<String> frames = new ArrayList<>();
        for (StackTraceElement frame : error.getStackTrace()) {
            if (frame.getClassName().startsWith(OWN_PACKAGE)) break;
            frames.add(frame.getClassName() + "." + frame.getMethodName() + "(" + where(frame) + ")");
        }
        while (!frames.isEmpty() && isReflection(frames.get(frames.size() - 1))) frames.remove(frames.size() - 1);
        return frames;
    }

    private static String where(StackTraceElement frame) {
        if (frame.isNativeMethod()) return "Native Method";
        if (frame.getFileName() == null) return "Unknown Source";
        return frame.getLineNumber() >= 0 ? frame.getFileName() + ":" + frame.getLineNumber() : frame.getFileName();
    }

    private static boolean isReflection(String frame) {
        return frame.startsWith("jdk.internal.reflect.") || frame.startsWith("java.lang.reflect.")
            || frame.startsWith("sun.reflect.");
    }

    /** What the function's log shows for a thrown error: "message: type" (the type's name when
     *  it has no message), then its stack trace as Java prints it. */
    static String logged(Throwable error) {
        String message = error.getLocalizedMessage() == null ? error.getClass().getName() : error.getLocalizedMessage();
        return logged(message, error);
    }

    /** What Lambda's Java runtime logs for a thrown error: {@link #logged(Throwable)} and a
     *  blank line (its own newline after the trace's). */
    static String reportable(Throwable error) {
        return logged(error) + "\n";
    }

    /** {@link #logged(String, Throwable)} and a blank line, as Lambda's Java runtime logs it. */
    static String reportable(String message, Throwable error) {
        return logged(message, error) + "\n";
    }

    /** "message: type" of {@code error}, then its stack trace (causes included). */
    static String logged(String message, Throwable error) {
        StringBuilder out = new StringBuilder();
        out.append(message).append(": ").append(error.getClass().getName()).append('\n');
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            out.append(t == error ? "" : "Caused by: ").append(t).append('\n');
            for (String frame : frames(t)) out.append("\tat ").append(frame).append('\n');
        }
        return out.toString();
    }
}
