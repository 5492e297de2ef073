/** An npm package name: lowercase letters, digits, `- . _ ~`, an optional `@scope/`. */
export const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/** The package name of an install spec (`name`, `name@1.2.0`, `@scope/name@^2`), or undefined. */
export function packageNameOf(spec: string): string | undefined {
  const at = spec.indexOf("@", 1);
  const name = at > 0 ? spec.slice(0, at) : spec;
  return PACKAGE_NAME.test(name) && name.length <= 214 ? name : undefined;
}
