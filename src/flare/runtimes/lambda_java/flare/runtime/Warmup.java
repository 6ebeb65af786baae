package flare.runtime;

import java.lang.reflect.Proxy;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Work done ahead so that a cold start's first invocation does not pay for it: the classes and
 * code paths every invocation uses (JSON both ways, POJO conversion, error reports, proxies,
 * reflection, URL encoding) loaded and run once on made-up values. A spare runs this while it
 * waits for its function (its CPU then is INIT's burst, not the invocation's share); INIT runs
 * {@link #forHandler} once the handler is loaded. Nothing here touches the Runtime API or the
 * function's state.
 */
final class Warmup {
    private Warmup() {
    }

    static void runtime() {
        try {
            Object event = Json.parse("{\"a\":[1,2.5,\"x\",true,null,{\"b\":\"\\u00e9\\n\"}],\"n\":12345678901}");
            Json.write(Pojo.toJson(event));
            Pojo.convert(event, Map.class);
            Pojo.convert(List.of(1, 2), int[].class);
            Json.write(ErrorReport.of(new IllegalStateException("warm-up", new RuntimeException())));
            ErrorReport.logged(new IllegalStateException("warm-up"));
            URLEncoder.encode("00000000-0000-0000-0000-000000000000", StandardCharsets.UTF_8);
            Supplier<?> proxy = (Supplier<?>) Proxy.newProxyInstance(
                Warmup.class.getClassLoader(), new Class<?>[] {Supplier.class}, (self, method, args) -> "x");
            proxy.get();
            Warmup.class.getDeclaredMethod("sample", List.class).invoke(null, new ArrayList<>());
            loadThroughOwnLoader();
            System.setProperty("com.amazonaws.xray.traceHeader", "Root=1-00000000-000000000000000000000000");
            System.clearProperty("com.amazonaws.xray.traceHeader");
        } catch (ReflectiveOperationException | RuntimeException e) {
            // only a warm-up: the real path reports what goes wrong
        }
    }

    /** A class loader like a function's, over the runtime's own jar: jar reading, class
     *  definition and method lookup run once. */
    private static void loadThroughOwnLoader() throws ReflectiveOperationException {
        String jar = System.getProperty("java.class.path", "");
        if (jar.isEmpty() || jar.contains(java.io.File.pathSeparator)) return;
        try (java.net.URLClassLoader loader = new java.net.URLClassLoader(
                new java.net.URL[] {new java.io.File(jar).toURI().toURL()}, ClassLoader.getPlatformClassLoader())) {
            Class.forName(Warmup.class.getName(), true, loader).getMethods();
        } catch (java.io.IOException e) {
            // only a warm-up
        }
    }

    /** Once the handler is loaded: its Context proxy class made, its answer's path and its log
     *  record's format (JSON's clock and escapes) run. */
    static void forHandler(LambdaContext contexts, Pojo pojo, FunctionLog log) {
        try {
            if (contexts.type() != null) contexts.forInvocation(Map.of()).toString();
            pojo.write(Map.of("ok", true));
            log.format("warm-up \"\n", "INFO");
        } catch (RuntimeException e) {
            // only a warm-up
        }
    }

    static int sample(List<Object> list) {
        return list.size();
    }
}
