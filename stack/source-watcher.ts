import { watch, type FSWatcher, readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

// Watch mode of the dev stack: reports changed source files, debounced, so the worker and the API
// can be restarted. One non-recursive fs.watch per directory (inotify on Linux), found by walking
// the tree while skipping ignored directories: Node 20's recursive fs.watch on Linux walks and
// watches everything below the root, node_modules/ and .data/ included. Directories created
// later are picked up as they appear; deleted ones drop their watchers.

export interface SourceWatcherOptions {
  root: string;
  /** Directories not to watch, by path relative to `root` with `/` separators (default: `isIgnoredDirectory`). */
  ignoreDirectory?: (relativeDir: string) => boolean;
  /** Which files count as source, by relative path (default: `isSourceFile`). */
  isSource?: (relativeFile: string) => boolean;
  /** Quiet time after the last change before `onChange` (default 300 ms: editors save in several steps). */
  debounceMs?: number;
  /** Changed (created, modified, renamed or deleted) source files, relative to `root`, sorted. */
  onChange: (relativeFiles: string[]) => void;
}

export interface SourceWatcher {
  /** Directories being watched, relative to the root (`''` is the root). */
  directories(): string[];
  close(): void;
}

const ignoredNames = new Set(['node_modules', 'dist', 'coverage']);

/** Hidden directories (.git, .data, .tools, …), node_modules, dist and coverage, at any depth. */
export function isIgnoredDirectory(relativeDir: string): boolean {
  return relativeDir.split('/').some((part) => part.startsWith('.') || ignoredNames.has(part));
}

const sourceExtensions = /\.(?:[cm]?ts|[cm]?js|json)$/;

/** TypeScript, JavaScript and JSON files, not editor temporaries (`.#x.ts`, `x.ts~`, `.x.ts.swp`). */
export function isSourceFile(relativeFile: string): boolean {
  const base = relativeFile.slice(relativeFile.lastIndexOf('/') + 1);
  return !base.startsWith('.') && sourceExtensions.test(base);
}

const toPosix = (path: string) => (sep === '/' ? path : path.split(sep).join('/'));

export function watchSources(options: SourceWatcherOptions): SourceWatcher {
  const { root, onChange } = options;
  const ignoreDirectory = options.ignoreDirectory ?? isIgnoredDirectory;
  const isSource = options.isSource ?? isSourceFile;
  const debounceMs = options.debounceMs ?? 300;
  const watchers = new Map<string, FSWatcher>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const changed = (relativeFile: string) => {
    if (closed || !isSource(relativeFile)) return;
    pending.add(relativeFile);
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const files = [...pending].sort();
      pending.clear();
      if (!closed && files.length) onChange(files);
    }, debounceMs);
  };

  const unwatch = (relativeDir: string) => {
    for (const [dir, watcher] of watchers) {
      if (dir === relativeDir || dir.startsWith(`${relativeDir}/`)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
  };

  /** Watches `relativeDir` and everything below it; with `reportFiles`, reports the files found (a directory that just appeared). */
  const add = (relativeDir: string, reportFiles: boolean) => {
    if (closed || watchers.has(relativeDir) || (relativeDir !== '' && ignoreDirectory(relativeDir))) return;
    const absolute = join(root, relativeDir);
    let watcher: FSWatcher;
    try {
      watcher = watch(absolute, { persistent: true }, (_event, filename) => {
        if (filename) onEvent(relativeDir, toPosix(filename.toString()));
      });
    } catch {
      return; // gone already, or not readable
    }
    watcher.on('error', () => unwatch(relativeDir));
    watchers.set(relativeDir, watcher);
    let entries;
    try {
      entries = readdirSync(absolute, { withFileTypes: true });
    } catch {
      unwatch(relativeDir);
      return;
    }
    for (const entry of entries) {
      const child = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      // Symbolic links are not followed: a link to node_modules/ or / must not be walked.
      if (entry.isDirectory()) add(child, reportFiles);
      else if (reportFiles && entry.isFile()) changed(child);
    }
  };

  const onEvent = (relativeDir: string, name: string) => {
    const path = relativeDir ? `${relativeDir}/${name}` : name;
    let isDirectory = false;
    try {
      isDirectory = statSync(join(root, path)).isDirectory();
    } catch {
      // Deleted (or renamed away): a watched directory stops being watched; a file counts as changed.
      if (watchers.has(path)) {
        unwatch(path);
        return;
      }
    }
    if (isDirectory) add(path, true);
    else changed(path);
  };

  add('', false);

  return {
    directories: () => [...watchers.keys()].sort(),
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** `a.ts`, `a.ts and b.ts`, `a.ts, b.ts and 3 more`: for log lines. */
export function describeFiles(files: readonly string[], shown = 2): string {
  if (files.length <= shown) return files.join(' and ');
  const rest = files.length - shown;
  return `${files.slice(0, shown).join(', ')} and ${rest} more`;
}
