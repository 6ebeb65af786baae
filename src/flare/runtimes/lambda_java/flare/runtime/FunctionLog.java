package flare.runtime;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What the function's {@code LambdaLogger} writes, as Lambda's Java runtime writes it, from
 * {@code AWS_LAMBDA_LOG_FORMAT} and {@code AWS_LAMBDA_LOG_LEVEL} (Lambda sets both only for
 * {@code LogFormat: JSON}):
 * <ul>
 * <li>Text: a call without a level prints its message as it is; a leveled call
 *     {@code "[LEVEL] message"}.</li>
 * <li>JSON: a String call is one record {@code {"timestamp","message","level","AWSRequestId",
 *     "tenantId"}} in that order (the level {@code UNDEFINED} for a call without one; no null
 *     field; the timestamp the local time to the millisecond, marked Z); a byte[] call is written
 *     as it is.</li>
 * <li>A leveled call below {@code AWS_LAMBDA_LOG_LEVEL} is dropped; a call without a level never
 *     is.</li>
 * </ul>
 * The request id (and tenant id) are the invocation's on the thread that serves it; another
 * thread's records have none. Each call ends with one newline (one log event a line; a JSON
 * record holds its newlines escaped). {@code System.out} is not the logger's and stays as written.
 */
final class FunctionLog {
    /** aws-lambda-java-core's LogLevel, in its order; UNDEFINED marks a call without a level. */
    static final List<String> LEVELS = Arrays.asList("UNDEFINED", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL");
    static final String UNDEFINED = "UNDEFINED";

    private final PrintStream out;
    private final boolean json;
    private final int threshold;
    private final ThreadLocal<String[]> request = new ThreadLocal<>();

    FunctionLog(Map<String, String> env, PrintStream out) {
        this.out = out;
        this.json = "JSON".equalsIgnoreCase(env.getOrDefault("AWS_LAMBDA_LOG_FORMAT", ""));
        this.threshold = Math.max(0, LEVELS.indexOf(env.getOrDefault("AWS_LAMBDA_LOG_LEVEL", UNDEFINED).toUpperCase()));
    }

    /** The invocation the calling thread serves from now on (its records carry its ids). */
    void serving(String requestId, String tenantId) {
        request.set(new String[] {requestId, tenantId});
    }

    /** One {@code LambdaLogger.log} call: {@code message} a String (or null) or UTF-8 bytes,
     *  {@code level} a LogLevel's name ({@link #UNDEFINED} for a call without one). */
    void log(Object message, String level) {
        if (!enabled(level)) return;
        if (message instanceof byte[]) write(new String((byte[]) message, StandardCharsets.UTF_8));
        else write(format(message == null ? null : message.toString(), level));
    }

    /** An error the runtime reports ({@code text} as Lambda's runtime words it: "message: type",
     *  the stack trace, then a blank line): the raw text, or an ERROR record in JSON. The blank
     *  line is not printed as text. */
    void error(String text) {
        if (json) write(format(text, "ERROR"));
        else write(text.endsWith("\n\n") ? text.substring(0, text.length() - 1) : text);
    }

    boolean enabled(String level) {
        return UNDEFINED.equals(level) || LEVELS.indexOf(level) >= threshold;
    }

    /** The text one call writes (its newline not yet added). */
    String format(String message, String level) {
        if (!json) return UNDEFINED.equals(level) ? String.valueOf(message) : "[" + level + "] " + message;
        StringBuilder record = new StringBuilder(64 + (message == null ? 0 : message.length()));
        record.append("{\"timestamp\":\"");
        stamp(LocalDateTime.now(), record);
        record.append('"');
        if (message != null) quoted(record.append(",\"message\":"), message);
        record.append(",\"level\":\"").append(level).append('"');
        String[] ids = request.get();
        if (ids != null && ids[0] != null) quoted(record.append(",\"AWSRequestId\":"), ids[0]);
        if (ids != null && ids[1] != null) quoted(record.append(",\"tenantId\":"), ids[1]);
        return record.append('}').toString();
    }

    private void write(String text) {
        synchronized (out) {
            out.print(text.endsWith("\n") ? text : text + "\n");
            out.flush();
        }
    }

    /** {@code yyyy-MM-ddTHH:mm:ss.SSSZ} of a local time (Lambda's runtime marks it Z whatever the zone). */
    static void stamp(LocalDateTime time, StringBuilder out) {
        pad(out, time.getYear(), 4).append('-');
        pad(out, time.getMonthValue(), 2).append('-');
        pad(out, time.getDayOfMonth(), 2).append('T');
        pad(out, time.getHour(), 2).append(':');
        pad(out, time.getMinute(), 2).append(':');
        pad(out, time.getSecond(), 2).append('.');
        pad(out, time.getNano() / 1_000_000, 3).append('Z');
    }

    private static StringBuilder pad(StringBuilder out, int value, int width) {
        String digits = Integer.toString(value);
        for (int i = digits.length(); i < width; i++) out.append('0');
        return out.append(digits);
    }

    /** {@code text} as a JSON string the way Gson writes it without HTML escaping. */
    static void quoted(StringBuilder out, String text) {
        Json.quote(text, out, true);
    }
}
