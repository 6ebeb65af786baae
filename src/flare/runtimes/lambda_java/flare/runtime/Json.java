package flare.runtime;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader and writer: objects become {@code LinkedHashMap<String, Object>}, arrays
 * {@code ArrayList<Object>}, numbers {@code Integer}, {@code Long} or {@code Double} (the
 * narrowest that holds them; a number too big for a long is a Double), and true/false/null
 * {@code Boolean}/{@code null}. Writing takes those, any {@code Map}, {@code Iterable}, array of
 * objects, {@code CharSequence}, {@code Number}, {@code Boolean} or {@code Character}.
 */
final class Json {
    private final String text;
    private int at;

    private Json(String text) {
        this.text = text;
    }

    /** The value {@code text} holds; IllegalArgumentException when it is not one JSON value. */
    static Object parse(String text) {
        Json reader = new Json(text);
        reader.skipSpace();
        Object value = reader.value();
        reader.skipSpace();
        if (reader.at != text.length()) throw reader.error("trailing characters");
        return value;
    }

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out);
        return out.toString();
    }

    private Object value() {
        if (at >= text.length()) throw error("unexpected end");
        char c = text.charAt(at);
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': return literal("true", Boolean.TRUE);
            case 'f': return literal("false", Boolean.FALSE);
            case 'n': return literal("null", null);
            default: return number();
        }
    }

    private Map<String, Object> object() {
        Map<String, Object> map = new LinkedHashMap<>();
        at++;
        skipSpace();
        if (peek('}')) return map;
        do {
            skipSpace();
            if (at >= text.length() || text.charAt(at) != '"') throw error("expected a key");
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            map.put(key, value());
            skipSpace();
        } while (peek(','));
        expect('}');
        return map;
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        at++;
        skipSpace();
        if (peek(']')) return list;
        do {
            skipSpace();
            list.add(value());
            skipSpace();
        } while (peek(','));
        expect(']');
        return list;
    }

    private String string() {
        StringBuilder out = new StringBuilder();
        at++;
        while (at < text.length()) {
            char c = text.charAt(at++);
            if (c == '"') return out.toString();
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (at >= text.length()) break;
            char e = text.charAt(at++);
            switch (e) {
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'u':
                    if (at + 4 > text.length()) throw error("bad escape");
                    out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    at += 4;
                    break;
                default: out.append(e);
            }
        }
        throw error("unterminated string");
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, at)) throw error("unexpected character");
        at += word.length();
        return value;
    }

    private Object number() {
        int start = at;
        while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
        String digits = text.substring(start, at);
        if (digits.isEmpty()) throw error("unexpected character");
        try {
            if (digits.indexOf('.') < 0 && digits.indexOf('e') < 0 && digits.indexOf('E') < 0) {
                long whole = Long.parseLong(digits);
                return whole == (int) whole ? (Object) (int) whole : (Object) whole;
            }
        } catch (NumberFormatException tooBig) {
            // falls through to a double
        }
        try {
            return Double.parseDouble(digits);
        } catch (NumberFormatException e) {
            throw error("bad number");
        }
    }

    private boolean peek(char c) {
        if (at < text.length() && text.charAt(at) == c) {
            at++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!peek(c)) throw error("expected '" + c + "'");
    }

    private void skipSpace() {
        while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) at++;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("Invalid JSON at offset " + at + ": " + what);
    }

    private static void write(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof CharSequence || value instanceof Character) {
            quote(value.toString(), out);
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) out.append("null");
            else out.append(value);
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map) {
            writeMap((Map<?, ?>) value, out);
        } else if (value instanceof Iterable) {
            writeIterator(((Iterable<?>) value).iterator(), out);
        } else if (value instanceof Object[]) {
            writeIterator(java.util.Arrays.asList((Object[]) value).iterator(), out);
        } else {
            throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
        }
    }

    private static void writeMap(Map<?, ?> map, StringBuilder out) {
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            if (!first) out.append(',');
            first = false;
            quote(String.valueOf(entry.getKey()), out);
            out.append(':');
            write(entry.getValue(), out);
        }
        out.append('}');
    }

    private static void writeIterator(Iterator<?> items, StringBuilder out) {
        out.append('[');
        boolean first = true;
        while (items.hasNext()) {
            if (!first) out.append(',');
            first = false;
            write(items.next(), out);
        }
        out.append(']');
    }

    static void quote(String s, StringBuilder out) {
        quote(s, out, false);
    }

    /** {@code s} as a JSON string; {@code gson}: also {@code \\b}, {@code \\f}, U+2028 and U+2029
     *  escaped, as Gson writes strings without HTML escaping (the function log's records). */
    static void quote(String s, StringBuilder out, boolean gson) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String escaped = escape(c, gson);
            if (escaped != null) out.append(escaped);
            else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        out.append('"');
    }

    private static String escape(char c, boolean gson) {
        switch (c) {
            case '"': return "\\\"";
            case '\\': return "\\\\";
            case '\n': return "\\n";
            case '\r': return "\\r";
            case '\t': return "\\t";
            case '\b': return gson ? "\\b" : null;
            case '\f': return gson ? "\\f" : null;
            case '\u2028': return gson ? "\\u2028" : null;
            case '\u2029': return gson ? "\\u2029" : null;
            default: return null;
        }
    }
}
