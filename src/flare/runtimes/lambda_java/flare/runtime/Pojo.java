package flare.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Events into a handler's input type, and its output into JSON. With Jackson in the function's
 * class loader ({@code com.fasterxml.jackson.databind.ObjectMapper}, as a function carrying
 * {@code aws-lambda-java-serialization} or Jackson has) Jackson does both, unknown properties
 * ignored. Otherwise Flare's fallback covers exactly: {@code String}, boxed and primitive numbers,
 * booleans and chars, enums (by name), {@code Object}/{@code Map}/{@code List}/{@code Collection}
 * (with their type arguments converted too), arrays, and beans (a public no-argument constructor,
 * filled through {@code setX} methods or public fields, written through {@code getX}/{@code isX}
 * getters). Anything else fails as "An error occurred during JSON parsing".
 */
final class Pojo {
    private final Object mapper;
    private final Method read;
    private final Method write;
    private final Method typeOf;
    private final Object factory;

    Pojo(ClassLoader loader) {
        Object found = null;
        Method readValue = null;
        Method writeValue = null;
        Method constructType = null;
        Object typeFactory = null;
        Class<?> mapperClass = LambdaContext.find(loader, "com.fasterxml.jackson.databind.ObjectMapper");
        if (mapperClass != null) {
            try {
                found = mapperClass.getConstructor().newInstance();
                Class<?> feature = Class.forName("com.fasterxml.jackson.databind.DeserializationFeature", true, loader);
                Object unknown = feature.getField("FAIL_ON_UNKNOWN_PROPERTIES").get(null);
                mapperClass.getMethod("configure", feature, boolean.class).invoke(found, unknown, false);
                Class<?> javaType = Class.forName("com.fasterxml.jackson.databind.JavaType", true, loader);
                readValue = mapperClass.getMethod("readValue", byte[].class, javaType);
                writeValue = mapperClass.getMethod("writeValueAsBytes", Object.class);
                typeFactory = mapperClass.getMethod("getTypeFactory").invoke(found);
                constructType = typeFactory.getClass().getMethod("constructType", Type.class);
            } catch (ReflectiveOperationException | LinkageError e) {
                found = null;
            }
        }
        this.mapper = found;
        this.read = readValue;
        this.write = writeValue;
        this.typeOf = constructType;
        this.factory = typeFactory;
    }

    boolean usesJackson() {
        return mapper != null;
    }

    /** The event as a {@code type}; a RuntimeException "An error occurred during JSON parsing" if not. */
    Object read(byte[] event, Type type) {
        try {
            if (mapper != null) return read.invoke(mapper, event, typeOf.invoke(factory, type));
            return convert(Json.parse(new String(event, StandardCharsets.UTF_8)), type);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw new RuntimeException("An error occurred during JSON parsing", e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new RuntimeException("An error occurred during JSON parsing", e);
        }
    }

    /** The handler's result as JSON. */
    byte[] write(Object result) {
        try {
            if (mapper != null) return (byte[]) write.invoke(mapper, result);
            return Json.write(toJson(result)).getBytes(StandardCharsets.UTF_8);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw new RuntimeException("An error occurred during JSON serialization of response", e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new RuntimeException("An error occurred during JSON serialization of response", e);
        }
    }

    static Object convert(Object value, Type type) throws ReflectiveOperationException {
        Class<?> raw = rawOf(type);
        if (value == null) return raw.isPrimitive() ? convert(0, type) : null;
        if (raw == Object.class) return value;
        if (raw == String.class) return text(value);
        if (raw.isPrimitive() || Number.class.isAssignableFrom(raw) || raw == Boolean.class || raw == Character.class) {
            return scalar(value, raw);
        }
        if (raw.isEnum()) return enumOf(raw, text(value));
        if (Map.class.isAssignableFrom(raw)) return mapOf(value, type);
        if (Collection.class.isAssignableFrom(raw)) return listOf(value, argument(type, 0));
        if (raw.isArray()) return arrayOf(value, type, raw);
        return bean(value, raw);
    }

    private static Class<?> rawOf(Type type) {
        if (type instanceof Class) return (Class<?>) type;
        if (type instanceof ParameterizedType) return (Class<?>) ((ParameterizedType) type).getRawType();
        if (type instanceof GenericArrayType) return Array.newInstance(rawOf(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
        return Object.class;
    }

    private static Type argument(Type type, int index) {
        if (type instanceof ParameterizedType) return ((ParameterizedType) type).getActualTypeArguments()[index];
        return Object.class;
    }

    private static String text(Object value) {
        if (value instanceof String) return (String) value;
        throw new IllegalArgumentException("Cannot convert " + Json.write(value) + " to a String");
    }

    private static Object scalar(Object value, Class<?> raw) {
        if (raw == boolean.class || raw == Boolean.class) {
            if (value instanceof Boolean) return value;
        } else if (raw == char.class || raw == Character.class) {
            if (value instanceof String && ((String) value).length() == 1) return ((String) value).charAt(0);
        } else if (value instanceof Number) {
            Number n = (Number) value;
            if (raw == int.class || raw == Integer.class) return n.intValue();
            if (raw == long.class || raw == Long.class) return n.longValue();
            if (raw == double.class || raw == Double.class) return n.doubleValue();
            if (raw == float.class || raw == Float.class) return n.floatValue();
            if (raw == short.class || raw == Short.class) return n.shortValue();
            if (raw == byte.class || raw == Byte.class) return n.byteValue();
            if (raw == Number.class) return n;
        }
        throw new IllegalArgumentException("Cannot convert " + Json.write(value) + " to " + raw.getName());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object enumOf(Class<?> raw, String name) {
        return Enum.valueOf((Class<Enum>) raw, name);
    }

    private static Map<Object, Object> mapOf(Object value, Type type) throws ReflectiveOperationException {
        if (!(value instanceof Map)) throw new IllegalArgumentException("Cannot convert " + Json.write(value) + " to a Map");
        Map<Object, Object> map = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
            map.put(entry.getKey(), convert(entry.getValue(), argument(type, 1)));
        }
        return map;
    }

    private static List<Object> listOf(Object value, Type element) throws ReflectiveOperationException {
        if (!(value instanceof List)) throw new IllegalArgumentException("Cannot convert " + Json.write(value) + " to a List");
        List<Object> list = new ArrayList<>();
        for (Object item : (List<?>) value) list.add(convert(item, element));
        return list;
    }

    private static Object arrayOf(Object value, Type type, Class<?> raw) throws ReflectiveOperationException {
        Type element = type instanceof GenericArrayType ? ((GenericArrayType) type).getGenericComponentType() : raw.getComponentType();
        List<Object> items = listOf(value, element);
        Object array = Array.newInstance(raw.getComponentType(), items.size());
        for (int i = 0; i < items.size(); i++) Array.set(array, i, items.get(i));
        return array;
    }

    private static Object bean(Object value, Class<?> raw) throws ReflectiveOperationException {
        if (!(value instanceof Map)) throw new IllegalArgumentException("Cannot convert " + Json.write(value) + " to " + raw.getName());
        Constructor<?> make = raw.getConstructor();
        Object bean = make.newInstance();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
            String key = String.valueOf(entry.getKey());
            if (key.isEmpty()) continue;
            Method setter = setter(raw, "set" + Character.toUpperCase(key.charAt(0)) + key.substring(1));
            if (setter != null) {
                setter.invoke(bean, convert(entry.getValue(), setter.getGenericParameterTypes()[0]));
                continue;
            }
            try {
                Field field = raw.getField(key);
                if (!Modifier.isStatic(field.getModifiers())) field.set(bean, convert(entry.getValue(), field.getGenericType()));
            } catch (NoSuchFieldException unknown) {
                // unknown properties are ignored, as Lambda's serializer does
            }
        }
        return bean;
    }

    private static Method setter(Class<?> raw, String name) {
        for (Method method : raw.getMethods()) {
            if (method.getName().equals(name) && method.getParameterCount() == 1 && !Modifier.isStatic(method.getModifiers())) {
                return method;
            }
        }
        return null;
    }

    /** ``value`` as what {@link Json#write} takes. */
    static Object toJson(Object value) throws ReflectiveOperationException {
        if (value == null || value instanceof CharSequence || value instanceof Number || value instanceof Boolean
            || value instanceof Character) {
            return value;
        }
        if (value instanceof Enum) return ((Enum<?>) value).name();
        if (value instanceof Map) {
            Map<String, Object> map = new LinkedHashMap<>();
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) map.put(String.valueOf(entry.getKey()), toJson(entry.getValue()));
            return map;
        }
        if (value instanceof Iterable) {
            List<Object> list = new ArrayList<>();
            for (Object item : (Iterable<?>) value) list.add(toJson(item));
            return list;
        }
        if (value.getClass().isArray()) {
            List<Object> list = new ArrayList<>();
            for (int i = 0; i < Array.getLength(value); i++) list.add(toJson(Array.get(value, i)));
            return list;
        }
        return beanToJson(value);
    }

    private static Map<String, Object> beanToJson(Object bean) throws ReflectiveOperationException {
        Map<String, Object> map = new LinkedHashMap<>();
        for (Method method : bean.getClass().getMethods()) {
            String name = method.getName();
            if (method.getParameterCount() != 0 || Modifier.isStatic(method.getModifiers()) || name.equals("getClass")) continue;
            String property = null;
            if (name.startsWith("get") && name.length() > 3) property = name.substring(3);
            else if (name.startsWith("is") && name.length() > 2 && method.getReturnType() == boolean.class) property = name.substring(2);
            if (property == null || method.getReturnType() == void.class) continue;
            map.put(Character.toLowerCase(property.charAt(0)) + property.substring(1), toJson(method.invoke(bean)));
        }
        for (Field field : bean.getClass().getFields()) {
            if (!Modifier.isStatic(field.getModifiers())) map.putIfAbsent(field.getName(), toJson(field.get(bean)));
        }
        return map;
    }
}
