package flare.runtime;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Loads {@code _HANDLER} as Lambda's Java runtime does: {@code package.Class::method}, or
 * {@code package.Class} implementing {@code RequestHandler} or {@code RequestStreamHandler}, from
 * the function's class path (the task root, its {@code classes/}, its {@code lib/*.jar}, then the
 * layers' {@code java/lib/*.jar}) in a class loader of its own whose parent is the platform's,
 * so the runtime's classes are not the function's. The class is initialised and, for an instance
 * method, constructed once, at INIT.
 *
 * <p>As Lambda's Java runtime does, a class that cannot be found and a method that is not
 * there do not fail INIT: each invocation fails with that {@link Fault} instead. A class whose
 * static initialiser or constructor throws fails INIT ({@link InitError}).
 *
 * <p>A method takes {@code (InputStream, OutputStream[, Context])} (a stream handler), or
 * {@code ([I][, Context])} returning an O or void (a POJO handler). Among the public methods of
 * that name (bridge methods left out) the one with the most parameters wins.
 */
final class Handlers {
    /** Raised at INIT: what Lambda reports as the init error. */
    static final class InitError extends Exception {
        private static final long serialVersionUID = 1L;
        final String type;

        InitError(String type, String message, Throwable cause) {
            super(message, cause);
            this.type = type;
        }
    }

    /** A handler that could not be loaded, told at each invocation: a message, and the type of
     *  what was thrown (null: none), whose stack trace the log shows. */
    static final class Fault extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String type;

        Fault(String message, Throwable cause) {
            super(message, cause);
            this.type = cause == null ? null : cause.getClass().getName();
        }
    }

    /** One loaded handler. */
    static final class Handler {
        private final Object target;
        private final Method method;
        private final boolean stream;
        private final boolean takesContext;
        private final Type input;

        private final Fault fault;

        Handler(Fault fault) {
            this.fault = fault;
            this.target = null;
            this.method = null;
            this.stream = false;
            this.takesContext = false;
            this.input = null;
        }

        Handler(Object target, Method method, boolean stream) {
            this.fault = null;
            this.target = target;
            this.method = method;
            this.stream = stream;
            Class<?>[] types = method.getParameterTypes();
            int plain = stream ? 2 : types.length;
            this.takesContext = types.length > plain || (!stream && types.length > 0 && isContext(types[types.length - 1]));
            int inputs = stream ? 2 : types.length - (takesContext ? 1 : 0);
            this.input = !stream && inputs == 1 ? method.getGenericParameterTypes()[0] : null;
        }

        /** The handler's answer to {@code event}; throws what the handler throws. */
        byte[] invoke(byte[] event, Object context, Pojo pojo) throws Throwable {
            if (fault != null) throw fault;
            List<Object> args = new ArrayList<>(3);
            ByteArrayOutputStream output = null;
            if (stream) {
                output = new ByteArrayOutputStream();
                args.add(new ByteArrayInputStream(event));
                args.add(output);
            } else if (input != null) {
                args.add(pojo.read(event, input));
            }
            if (takesContext) args.add(context);
            Object result;
            try {
                result = method.invoke(target, args.toArray());
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (stream) return output.toByteArray();
            return pojo.write(method.getReturnType() == void.class ? null : result);
        }
    }

    private Handlers() {
    }

    static ClassLoader classLoader(String taskRoot, String optDir) throws MalformedURLException {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(taskRoot).toURI().toURL());
        File classes = new File(taskRoot, "classes");
        if (classes.isDirectory()) urls.add(classes.toURI().toURL());
        addJars(new File(taskRoot, "lib"), urls);
        addJars(new File(optDir, "java/lib"), urls);
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
    }

    private static void addJars(File dir, List<URL> urls) throws MalformedURLException {
        File[] jars = dir.listFiles((d, name) -> name.endsWith(".jar"));
        if (jars == null) return;
        Arrays.sort(jars);
        for (File jar : jars) urls.add(jar.toURI().toURL());
    }

    static Handler load(String spec, ClassLoader loader) throws InitError {
        int colons = spec.indexOf("::");
        String className = colons >= 0 ? spec.substring(0, colons) : spec;
        String methodName = colons >= 0 ? spec.substring(colons + 2) : null;
        Class<?> type;
        try {
            type = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return new Handler(new Fault("Class not found: " + className, e));
        } catch (Throwable e) {
            throw loadingError(className, e);
        }
        Method method;
        try {
            method = methodName != null ? named(type, methodName) : implemented(type);
        } catch (Fault fault) {
            return new Handler(fault);
        }
        boolean stream = isStream(method.getParameterTypes());
        Object target = null;
        if (!Modifier.isStatic(method.getModifiers())) target = construct(type, className);
        method.setAccessible(true);
        return new Handler(target, method, stream);
    }

    private static InitError loadingError(String className, Throwable e) {
        String message = "Error loading class " + className + (e.getMessage() == null ? "" : ": " + e.getMessage());
        return new InitError(e.getClass().getName(), message, e);
    }

    private static Method named(Class<?> type, String name) {
        Method best = Arrays.stream(type.getMethods())
            .filter(m -> m.getName().equals(name) && !m.isBridge() && accepted(m.getParameterTypes()))
            .max(Comparator.comparingInt(Method::getParameterCount))
            .orElse(null);
        if (best == null) {
            throw new Fault("No public method named " + name + " with appropriate method signature found on class " + type.getName(), null);
        }
        return best;
    }

    private static Method implemented(Class<?> type) {
        boolean streams = implementsNamed(type, LambdaContext.CORE + "RequestStreamHandler");
        if (!streams && !implementsNamed(type, LambdaContext.CORE + "RequestHandler")) {
            throw new Fault("Class " + type.getName() + " does not implement RequestHandler with concrete type parameters", null);
        }
        return named(type, "handleRequest");
    }

    private static boolean implementsNamed(Class<?> type, String name) {
        for (Class<?> at = type; at != null; at = at.getSuperclass()) {
            for (Class<?> face : at.getInterfaces()) {
                if (face.getName().equals(name) || implementsNamed(face, name)) return true;
            }
        }
        return false;
    }

    private static boolean accepted(Class<?>[] types) {
        if (isStream(types)) return types.length == 2 || isContext(types[2]);
        if (types.length <= 1) return true;
        return types.length == 2 && isContext(types[1]);
    }

    private static boolean isStream(Class<?>[] types) {
        return types.length >= 2 && types.length <= 3 && types[0] == InputStream.class && types[1] == OutputStream.class;
    }

    static boolean isContext(Class<?> type) {
        return type.getName().equals(LambdaContext.CORE + "Context");
    }

    private static Object construct(Class<?> type, String className) throws InitError {
        try {
            return type.getConstructor().newInstance();
        } catch (InvocationTargetException e) {
            throw loadingError(className, e.getCause());
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            throw loadingError(className, e);
        }
    }
}
