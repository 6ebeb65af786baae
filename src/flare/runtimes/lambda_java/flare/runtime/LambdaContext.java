package flare.runtime;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.Map;

/**
 * The handler's {@code Context}, {@code LambdaLogger}, {@code CognitoIdentity} and
 * {@code ClientContext}: proxies of the interfaces the function's own class loader has (its copy
 * of {@code aws-lambda-java-core}), so the runtime needs none on its own class path. An interface
 * the function does not carry is simply not offered (null).
 */
final class LambdaContext {
    static final String CORE = "com.amazonaws.services.lambda.runtime.";

    private final ClassLoader loader;
    private final Class<?> contextType;
    private final Object logger;
    private final Map<String, String> env;

    LambdaContext(ClassLoader loader, Map<String, String> env, FunctionLog log) {
        this.loader = loader;
        this.env = env;
        this.contextType = find(loader, CORE + "Context");
        this.logger = proxy(find(loader, CORE + "LambdaLogger"), (name, args) -> {
            if (!name.equals("log") || args == null || args.length == 0) return null;
            // log(message, LogLevel) of core 1.2.3+: the level is the function's own enum (a null
            // one fails the call, as on Lambda); answered here, not by the default that drops it
            log.log(args[0], args.length > 1 ? ((Enum<?>) args[1]).name() : FunctionLog.UNDEFINED);
            return Boolean.TRUE;
        });
        installRuntimeLogger(loader, logger);
    }

    /** {@code LambdaRuntime.getLogger()} answers the same logger (Lambda's runtime sets the
     *  core's static field too; its log4j2 appender logs through it). A core without the class
     *  or the field keeps its own, which prints to System.out. */
    private static void installRuntimeLogger(ClassLoader loader, Object logger) {
        Class<?> runtime = find(loader, CORE + "LambdaRuntime");
        if (runtime == null || logger == null) return;
        try {
            Field field = runtime.getDeclaredField("logger");
            field.setAccessible(true);
            field.set(null, logger);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // not the core's field as it is known: its own logger stays
        }
    }

    /** The type the handler's Context parameter has (null when the function carries none). */
    Class<?> type() {
        return contextType;
    }

    /** A Context for one invocation, from its Runtime API headers. */
    Object forInvocation(Map<String, String> headers) {
        long deadline = Long.parseLong(headers.getOrDefault("lambda-runtime-deadline-ms", "0"));
        Object identity = identity(headers.get("lambda-runtime-cognito-identity"));
        Object client = clientContext(headers.get("lambda-runtime-client-context"));
        return proxy(contextType, (name, args) -> {
            switch (name) {
                case "getAwsRequestId": return headers.get("lambda-runtime-aws-request-id");
                case "getLogGroupName": return env.get("AWS_LAMBDA_LOG_GROUP_NAME");
                case "getLogStreamName": return env.get("AWS_LAMBDA_LOG_STREAM_NAME");
                case "getFunctionName": return env.get("AWS_LAMBDA_FUNCTION_NAME");
                case "getFunctionVersion": return env.get("AWS_LAMBDA_FUNCTION_VERSION");
                case "getInvokedFunctionArn": return headers.get("lambda-runtime-invoked-function-arn");
                case "getIdentity": return identity;
                case "getClientContext": return client;
                case "getTenantId": return headers.get("lambda-runtime-aws-tenant-id");
                case "getXrayTraceId": return headers.get("lambda-runtime-trace-id");
                case "getRemainingTimeInMillis":
                    return (int) Math.max(0, deadline - System.currentTimeMillis());
                case "getMemoryLimitInMB":
                    return Integer.parseInt(env.getOrDefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
                case "getLogger": return logger;
                default: return null;
            }
        });
    }

    @SuppressWarnings("unchecked")
    private Object identity(String header) {
        Class<?> type = find(loader, CORE + "CognitoIdentity");
        if (header == null || header.isEmpty() || type == null) return null;
        Map<String, Object> fields = (Map<String, Object>) Json.parse(header);
        return proxy(type, (name, args) -> {
            if (name.equals("getIdentityId")) return fields.get("cognitoIdentityId");
            if (name.equals("getIdentityPoolId")) return fields.get("cognitoIdentityPoolId");
            return null;
        });
    }

    @SuppressWarnings("unchecked")
    private Object clientContext(String header) {
        Class<?> type = find(loader, CORE + "ClientContext");
        if (header == null || header.isEmpty() || type == null) return null;
        Map<String, Object> fields = (Map<String, Object>) Json.parse(header);
        Map<String, Object> about = (Map<String, Object>) fields.getOrDefault("client", Collections.emptyMap());
        Object client = proxy(find(loader, CORE + "Client"), (name, args) -> {
            switch (name) {
                case "getInstallationId": return about.get("installation_id");
                case "getAppTitle": return about.get("app_title");
                case "getAppVersionName": return about.get("app_version_name");
                case "getAppVersionCode": return about.get("app_version_code");
                case "getAppPackageName": return about.get("app_package_name");
                default: return null;
            }
        });
        return proxy(type, (name, args) -> {
            if (name.equals("getClient")) return client;
            if (name.equals("getCustom")) return fields.get("custom");
            if (name.equals("getEnvironment")) return fields.get("env");
            return null;
        });
    }

    interface Answers {
        Object answer(String method, Object[] args) throws Throwable;
    }

    /** A proxy of {@code type} answering its methods by name (Object's methods as an identity). */
    private Object proxy(Class<?> type, Answers answers) {
        if (type == null) return null;
        InvocationHandler handler = new InvocationHandler() {
            @Override
            public Object invoke(Object self, Method method, Object[] args) throws Throwable {
                switch (method.getName()) {
                    case "equals": return args != null && args.length == 1 && self == args[0];
                    case "hashCode": return System.identityHashCode(self);
                    case "toString": return type.getSimpleName() + "@flare";
                    default:
                        Object value = answers.answer(method.getName(), args);
                        if (value == null && method.isDefault()) return InvocationHandler.invokeDefault(self, method, args);
                        return value == null && method.getReturnType().isPrimitive() ? zero(method.getReturnType()) : value;
                }
            }
        };
        return Proxy.newProxyInstance(loader, new Class<?>[] {type}, handler);
    }

    private static Object zero(Class<?> primitive) {
        if (primitive == boolean.class) return false;
        if (primitive == void.class) return null;
        if (primitive == long.class) return 0L;
        if (primitive == double.class) return 0.0;
        if (primitive == float.class) return 0.0f;
        return 0;
    }

    static Class<?> find(ClassLoader loader, String name) {
        try {
            return Class.forName(name, false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }
}
