import { packageFile } from "../package-root.js";

type Age = typeof import("age-encryption");
let age: Promise<Age> | undefined;

/**
 * age-encryption, loaded on first use. The build pre-bundles it with its @noble/* and
 * @scure/base dependencies into one file (`dist/vendor/age-encryption.js`,
 * scripts/bundle-vendor.mjs): as 57 modules it took ~45 ms to load on every command that
 * reads secrets. From sources (tests), the package itself.
 */
export function ageModule(): Promise<Age> {
  return (age ??= import(packageFile("dist/vendor/age-encryption.js").href).then(
    (bundled: Age) => bundled,
    (error: NodeJS.ErrnoException) => {
      if (error.code !== "ERR_MODULE_NOT_FOUND") throw error;
      return import("age-encryption");
    },
  ));
}
