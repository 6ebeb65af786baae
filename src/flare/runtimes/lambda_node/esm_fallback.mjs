// Module hooks for ES modules: a bare specifier that Node finds nowhere from the importing
// module is looked for in NODE_PATH's directories (the layers' node_modules, the SDK), as
// `require` looks there. Registered only when a handler's import needs it (handler.js): hooks
// run on a thread of their own, ~30 ms to start.

let directories = [];

export function initialize(data) {
  directories = data.directories;
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || /^(\.|\/|file:|node:|data:)/.test(specifier)) throw error;
    for (const directory of directories) {
      try {
        return await next(specifier, { ...context, parentURL: `file://${directory}/` });
      } catch (_) {
        // not there either
      }
    }
    throw error;
  }
}
