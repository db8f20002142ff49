import { basename, sep } from 'node:path';

/** Folders never walked when a directory is expanded: dependencies, build output, tool state. */
export const EXCLUDED_DIRS = new Set([
  '__pycache__',
  'venv',
  'env',
  'node_modules',
  'build',
  'dist',
  'target',
  'out',
  'vendor',
  'site-packages',
  'coverage',
  '_build',
  'site',
  'bower_components',
  'jspm_packages',
]);

/** Code, script, config, doc and web files: what a directory expands to. */
export const INCLUDED_EXTENSIONS = new Set(
  (
    '.py .pyi .ts .tsx .mts .cts .js .jsx .mjs .cjs .java .kt .kts .scala .go .rs .c .h .cc .cpp .cxx .hpp .hh .cs ' +
    '.swift .m .mm .rb .php .pl .pm .lua .r .dart .ex .exs .erl .hs .clj .fs .fsx .vue .svelte .sh .bash .zsh .fish ' +
    '.ps1 .bat .sql .graphql .proto .md .mdx .rst .txt .adoc .json .jsonc .yaml .yml .toml .ini .cfg .conf .xml ' +
    '.gradle .cmake .mk .tf .hcl .html .htm .css .scss .sass .less .dockerfile'
  ).split(' '),
);

const SECRET_DIRS = ['.ssh', '.gnupg', '.aws', '.docker', '.kube'];
const SECRET_NAMES = new Set(['.netrc', '.npmrc', '.pypirc', '.git-credentials', 'credentials']);

/**
 * Files that usually hold keys or credentials: refused unless the operator
 * allows them, because a prompt-injected agent could otherwise send a private
 * key to a model provider.
 */
export function isSecretLooking(path: string): boolean {
  const parts = path.split(sep);
  if (parts.some((part) => SECRET_DIRS.includes(part))) return true;
  const name = basename(path);
  return (
    name.startsWith('.env') ||
    name.startsWith('id_') ||
    SECRET_NAMES.has(name) ||
    /\.(pem|key|p12|pfx|keystore|jks)$/i.test(name)
  );
}
