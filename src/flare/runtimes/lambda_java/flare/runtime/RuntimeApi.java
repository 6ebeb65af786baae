package flare.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The Runtime API ({@code AWS_LAMBDA_RUNTIME_API}, "host:port") over one kept-alive HTTP/1.1
 * connection, opened again when the engine closed it: the next event, responses, errors. A plain
 * socket rather than {@code HttpURLConnection}: far fewer classes to load on a cold start.
 */
final class RuntimeApi {
    static final String PREFIX = "/2018-06-01/runtime";
    static final String ERROR_TYPE = "Lambda-Runtime-Function-Error-Type";

    /** An answer: its status, headers (names in lower case) and body. */
    static final class Answer {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Answer(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }
    }

    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        int colon = address.lastIndexOf(':');
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
    }

    /** The next invocation; IOException when the Runtime API answers anything but 200. */
    Answer next() throws IOException {
        Answer answer = exchange("GET", "/invocation/next", null, null);
        if (answer.status != 200) {
            String body = new String(answer.body, StandardCharsets.UTF_8);
            throw new IOException("Runtime API /next answered " + answer.status + ": " + body);
        }
        return answer;
    }

    void respond(String id, byte[] body) throws IOException {
        exchange("POST", "/invocation/" + encode(id) + "/response", body, null);
    }

    void fail(String id, String errorJson, String errorType) throws IOException {
        byte[] body = errorJson.getBytes(StandardCharsets.UTF_8);
        exchange("POST", "/invocation/" + encode(id) + "/error", body, errorType);
    }

    /** The invocation's error, sent without waiting for the answer: the process stops next
     *  (after a VirtualMachineError), and must not be frozen first, as an idle one is. */
    void failLeaving(String id, String errorJson, String errorType) throws IOException {
        byte[] body = errorJson.getBytes(StandardCharsets.UTF_8);
        if (socket == null) connect();
        write("POST", "/invocation/" + encode(id) + "/error", body, errorType);
    }

    void failInit(String errorJson, String errorType) throws IOException {
        exchange("POST", "/init/error", errorJson.getBytes(StandardCharsets.UTF_8), errorType);
    }

    /** A request that changes nothing (a path the Runtime API does not serve), to warm up. */
    void warm() {
        try {
            exchange("POST", "/flare/warm", "{}".getBytes(StandardCharsets.UTF_8), null);
        } catch (IOException ignored) {
            // only a warm-up
        }
    }

    private Answer exchange(String method, String path, byte[] body, String errorType) throws IOException {
        boolean reused = socket != null;
        try {
            return send(method, path, body, errorType);
        } catch (IOException e) {
            close();
            if (!reused) throw e;
            return send(method, path, body, errorType); // the kept-alive connection was closed
        }
    }

    private void connect() throws IOException {
        socket = new Socket(host, port);
        socket.setTcpNoDelay(true);
        in = new BufferedInputStream(socket.getInputStream(), 65536);
        out = socket.getOutputStream();
    }

    private Answer send(String method, String path, byte[] body, String errorType) throws IOException {
        if (socket == null) connect();
        write(method, path, body, errorType);
        return read();
    }

    private void write(String method, String path, byte[] body, String errorType) throws IOException {
        StringBuilder head = new StringBuilder(256);
        head.append(method).append(' ').append(PREFIX).append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(host).append(':').append(port).append("\r\n");
        head.append("User-Agent: flare-java-runtime\r\n");
        if (errorType != null) head.append(ERROR_TYPE).append(": ").append(errorType).append("\r\n");
        if (body != null) {
            head.append("Content-Type: application/json\r\n");
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.UTF_8);
        if (body == null || body.length + headBytes.length > 65536) {
            out.write(headBytes);
            if (body != null) out.write(body);
        } else {
            byte[] whole = new byte[headBytes.length + body.length];
            System.arraycopy(headBytes, 0, whole, 0, headBytes.length);
            System.arraycopy(body, 0, whole, headBytes.length, body.length);
            out.write(whole);
        }
        out.flush();
    }

    private Answer read() throws IOException {
        String status = line();
        if (status == null || !status.startsWith("HTTP/1.")) throw new IOException("no answer");
        int code = Integer.parseInt(status.substring(9, 12));
        Map<String, String> headers = new HashMap<>();
        for (String line = line(); line != null && !line.isEmpty(); line = line()) {
            int colon = line.indexOf(':');
            if (colon > 0) headers.put(line.substring(0, colon).trim().toLowerCase(), line.substring(colon + 1).trim());
        }
        byte[] body;
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            body = chunked();
        } else {
            String length = headers.get("content-length");
            body = readFully(length == null ? 0 : Integer.parseInt(length));
        }
        if ("close".equalsIgnoreCase(headers.get("connection"))) close();
        return new Answer(code, headers, body);
    }

    private byte[] chunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (;;) {
            String size = line();
            if (size == null) throw new IOException("connection closed in a chunked body");
            int semicolon = size.indexOf(';');
            int n = Integer.parseInt((semicolon >= 0 ? size.substring(0, semicolon) : size).trim(), 16);
            if (n == 0) {
                while (true) {
                    String trailer = line();
                    if (trailer == null || trailer.isEmpty()) return body.toByteArray();
                }
            }
            body.write(readFully(n));
            line();
        }
    }

    private byte[] readFully(int n) throws IOException {
        byte[] bytes = new byte[n];
        int got = 0;
        while (got < n) {
            int r = in.read(bytes, got, n - got);
            if (r < 0) throw new IOException("connection closed in a body");
            got += r;
        }
        return bytes;
    }

    private String line() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        for (int c = in.read(); c >= 0; c = in.read()) {
            if (c == '\n') {
                byte[] bytes = line.toByteArray();
                int end = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, end, StandardCharsets.UTF_8);
            }
            line.write(c);
        }
        return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
    }

    private void close() {
        try {
            if (socket != null) socket.close();
        } catch (IOException ignored) {
            // already gone
        }
        socket = null;
    }

    private static String encode(String id) {
        return URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
