import { existsSync, readFileSync, statSync } from 'node:fs';
import { EVENTS_SETTINGS, GATEWAY_SETTINGS, loadSettings, type Env } from '@vision/config';
import type { FileRole, SiteFile } from './backup-file';

/** The command line's file options, which win over the settings. */
export interface FileOptions {
  camerasFile?: string;
  siteFile?: string;
  dotenv?: string;
}

/**
 * Where the site's files are: CAMERAS_FILE (the gateway's cameras), EVENTS_SITE_FILE (the events
 * service's site) and the `.env` compose reads (deploy/init-site.sh writes it in the working directory).
 */
export function siteFilePaths(options: FileOptions, env: Env): Partial<Record<FileRole, string>> {
  const settings = loadSettings({ camerasFile: GATEWAY_SETTINGS.camerasFile, siteFile: EVENTS_SETTINGS.siteFile }, env);
  const paths: Partial<Record<FileRole, string>> = { env: options.dotenv ?? '.env' };
  const cameras = options.camerasFile ?? settings.camerasFile;
  const site = options.siteFile ?? settings.siteFile;
  if (cameras) paths.cameras = cameras;
  if (site) paths.site = site;
  return paths;
}

/** The files of `paths` that exist, read whole. */
export function readSiteFiles(paths: Partial<Record<FileRole, string>>): SiteFile[] {
  return Object.entries(paths)
    .filter(([, path]) => path !== undefined && existsSync(path))
    .map(([role, path]) => ({
      role: role as FileRole,
      path: path!,
      mode: statSync(path!).mode & 0o777,
      data: readFileSync(path!),
    }));
}
