package flare.runtime;

import java.io.IOError;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Flare's Java runtime client: started as {@code java ... flare.runtime.Main} in the environment
 * (cwd: the task root), it loads {@code _HANDLER} (INIT) and then serves invocations from the
 * Runtime API for ever. With {@code _FLARE_HOLD} set the engine started it ahead of its INIT (a
 * spare): it first warms its connection and waits for a write on stdin.
 *
 * <p>A handler that cannot be found fails each invocation, not INIT ({@link Handlers.Fault}). An
 * INIT failure (the handler's class or constructor threw) is logged and posted to {@code /init/error}, and the process exits 1. A
 * handler's exception is logged ("message: type" and its stack trace) and posted as the
 * invocation's error; after a {@code VirtualMachineError} (an OutOfMemoryError...) the process
 * exits, as the JVM can no longer be trusted.
 */
public final class Main {
    // the error types posted in Lambda-Runtime-Function-Error-Type, as Lambda's Java runtime posts them
    static final String BAD_FUNCTION_CODE = "Runtime.BadFunctionCode";
    static final String USER_EXCEPTION = "Runtime.UserException";
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--warm-up-only")) {  // a training run (class lists, archives)
            Warmup.runtime();
            return;
        }
        Map<String, String> env = System.getenv();
        RuntimeApi api = new RuntimeApi(env.get("AWS_LAMBDA_RUNTIME_API"));
        boolean held = env.containsKey("_FLARE_HOLD");
        if (held) {
            api.warm();
            Warmup.runtime();
            System.in.read();
        }
        FunctionLog log = new FunctionLog(env, System.out);
        Handlers.Handler handler;
        LambdaContext contexts;
        Pojo pojo;
        try {
            String taskRoot = env.getOrDefault("LAMBDA_TASK_ROOT", System.getProperty("user.dir"));
            ClassLoader loader = Handlers.classLoader(taskRoot, System.getProperty("flare.optDir", "/opt"));
            Thread.currentThread().setContextClassLoader(loader);
            contexts = new LambdaContext(loader, env, log);
            handler = Handlers.load(env.getOrDefault("_HANDLER", ""), loader);
            pojo = new Pojo(loader);
            if (!held) Warmup.runtime();
            Warmup.forHandler(contexts, pojo, log);
        } catch (Handlers.InitError e) {
            failInit(api, log, e.type, e.getMessage(), e.getCause());
            return;
        } catch (Throwable e) {
            failInit(api, log, e.getClass().getName(), String.valueOf(e.getMessage()), e);
            return;
        }
        for (;;) serve(api, handler, contexts, pojo, log);
    }

    private static void failInit(RuntimeApi api, FunctionLog log, String type, String message, Throwable cause)
            throws IOException {
        Map<String, Object> report = ErrorReport.plain(type, message);
        if (cause != null) report.put("stackTrace", ErrorReport.frames(cause));
        log.error(cause != null ? ErrorReport.reportable(message, cause) : message + ": " + type + "\n\n");
        api.failInit(Json.write(report), BAD_FUNCTION_CODE);
        System.exit(1);
    }

    private static void serve(RuntimeApi api, Handlers.Handler handler, LambdaContext contexts, Pojo pojo, FunctionLog log)
            throws IOException {
        RuntimeApi.Answer next = api.next();
        Map<String, String> headers = next.headers;
        String id = headers.get("lambda-runtime-aws-request-id");
        String trace = headers.get("lambda-runtime-trace-id");
        if (trace != null) System.setProperty("com.amazonaws.xray.traceHeader", trace);
        else System.clearProperty("com.amazonaws.xray.traceHeader");
        log.serving(id, headers.get("lambda-runtime-aws-tenant-id"));
        byte[] answer;
        try {
            answer = handler.invoke(next.body, contexts.forInvocation(headers), pojo);
        } catch (Handlers.Fault fault) {
            log.error(fault.type == null ? fault.getMessage() + "\n" : ErrorReport.reportable(fault.getMessage(), fault.getCause()));
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("errorMessage", fault.getMessage());
            if (fault.type != null) report.put("errorType", fault.type);
            api.fail(id, Json.write(report), BAD_FUNCTION_CODE);
            return;
        } catch (Throwable error) {
            // after a VirtualMachineError (an OutOfMemoryError...) the JVM can no longer be
            // trusted, nor can it allocate to exit cleanly: it stops once the error is posted
            boolean fatal = error instanceof VirtualMachineError || error instanceof IOError;
            try {
                System.out.flush();
                log.error(ErrorReport.reportable(error));
                System.err.flush();
                String report = Json.write(ErrorReport.of(error));
                if (fatal) api.failLeaving(id, report, USER_EXCEPTION);
                else api.fail(id, report, USER_EXCEPTION);
            } finally {
                if (fatal) Runtime.getRuntime().halt(1);
            }
            return;
        }
        System.out.flush();
        System.err.flush();
        api.respond(id, answer);
    }
}
