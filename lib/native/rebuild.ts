// The command that rebuilds the addon, as the loader's errors print it.

/**
 * In a checkout: its build script. Installed as a dependency (inside a node_modules folder): npm's rebuild, run from
 * the consumer's project, which reruns hiexp's install script (cmake-js is resolved wherever npm put it).
 */
export function rebuildCommand(root: string): string {
  return /[\\/]node_modules[\\/]/.test(root)
    ? 'npm rebuild hiexp --foreground-scripts   (in the project that depends on hiexp)'
    : `cd ${root} && npm run build:native`
}
