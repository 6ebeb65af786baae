'use strict';
// Finding the handler `_HANDLER` names, as Lambda's Node.js runtime does: `dir/sub/file.fn.sub`
// is property `fn.sub` of module `dir/sub/file` under the task root, tried as the file itself,
// then `.js` (CommonJS, or an ES module when the nearest package.json says "type": "module"),
// `.mjs` (ES module), `.cjs`, and last as a package name resolved from the task root.

const fs = require('fs');
const path = require('path');
const {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  UserCodeSyntaxError,
} = require('./errors.js');

function requireIfFile(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

let fallbackRegistered = false;

// Import an ES module; when a package it imports is found nowhere Node looks, register the
// NODE_PATH fallback (esm_fallback.mjs) and import it again (as `file?node_path`: Node remembers the
// failure under its plain URL; nothing of it ran, since ES modules link before they run).
async function importIfFile(file) {
  if (!fs.existsSync(file)) return undefined;
  try {
    return await import(file);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || fallbackRegistered || !process.env.NODE_PATH) throw error;
    fallbackRegistered = true;
    const { pathToFileURL } = require('url');
    const directories = process.env.NODE_PATH.split(':').filter((directory) => fs.existsSync(directory));
    require('module').register('./esm_fallback.mjs', pathToFileURL(__filename), { data: { directories } });
    return import(`${pathToFileURL(file).href}?node_path`);
  }
}

// Whether the nearest package.json above `folder` says "type": "module" (a node_modules
// directory, or the root, ends the search with no).
function typeModule(folder) {
  for (let at = folder; ; at = path.dirname(at)) {
    if (at.endsWith('/node_modules')) return false;
    const manifest = path.join(at, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8'))?.type === 'module';
      } catch (error) {
        console.warn(`${manifest} cannot be read, it will be ignored for ES module detection purposes.`, error);
        return false;
      }
    }
    if (at === '/') return false;
  }
}

async function loadModule(taskRoot, moduleRoot, name) {
  const base = path.resolve(taskRoot, moduleRoot, name);
  const bare = requireIfFile(base);
  if (bare) return bare;
  const esm = fs.existsSync(base + '.js') && typeModule(path.dirname(base + '.js'));
  if (!esm) {
    const commonJs = requireIfFile(base + '.js');
    if (commonJs) return commonJs;
  }
  const found =
    (esm && (await importIfFile(base + '.js'))) ||
    (await importIfFile(base + '.mjs')) ||
    requireIfFile(base + '.cjs');
  if (found) return found;
  return require(require.resolve(name, { paths: [taskRoot, moduleRoot] }));
}

// The handler function; throws the Runtime.* error Lambda reports for each way it can fail.
async function loadHandler(taskRoot, handler) {
  if (handler.includes('..')) {
    throw new MalformedHandlerName(
      `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const last = path.basename(handler);
  const moduleRoot = handler.substring(0, handler.indexOf(last));
  const match = last.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, name, property] = match;
  let loaded;
  try {
    loaded = await loadModule(taskRoot, moduleRoot, name);
  } catch (error) {
    if (error instanceof SyntaxError) throw new UserCodeSyntaxError(error);
    if (error?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(error);
    throw error;
  }
  const found = property.split('.').reduce((object, key) => object && object[key], loaded);
  if (!found) throw new HandlerNotFound(`${handler} is undefined or not exported`);
  if (typeof found !== 'function') throw new HandlerNotFound(`${handler} is not a function`);
  return found;
}

module.exports = { loadHandler };
