/** Target settings resolved from the site's config (`podman.*` keys). */
export interface PodmanSettings {
  /**
   * Image with a static busybox at /bin/busybox. Used read-only (as an image mount) to put
   * secrets into environment variables, and to run volume backup/restore helpers.
   */
  helperImage: string;
  /** Host address published ports bind to. */
  bindAddress: string;
  /** Postgres image; `{version}` is replaced by the resource's major version. */
  postgresImage: string;
  /** Redis image. */
  redisImage: string;
}

export const DEFAULT_SETTINGS: PodmanSettings = {
  helperImage: "docker.io/library/busybox:stable-musl",
  bindAddress: "127.0.0.1",
  postgresImage: "docker.io/library/postgres:{version}",
  redisImage: "docker.io/library/redis:7",
};

/** Images built offline by scripts/images/build.sh; the `airgapped` preset uses them. */
export const OFFLINE_SETTINGS: Pick<PodmanSettings, "helperImage" | "postgresImage" | "redisImage"> = {
  helperImage: "localhost/stepwise/base-busybox:latest",
  postgresImage: "localhost/stepwise/postgres:{version}",
  redisImage: "localhost/stepwise/redis:7",
};
