/**
 * The squashed filesystem of an image: a directory tree of nodes, each remembering the layer
 * its final version came from. Layers are applied to it bottom to top by squash.ts; once built
 * it is only read.
 */
import type { Digest } from '../oci/digest.ts';
import { baseName, comparePaths, joinPath, normalizePath, parentPath, pathComponents } from './paths.ts';

export type FileType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface FileNode {
  /** Absolute, normalised. */
  path: string;
  type: FileType;
  /** Bytes of content; a hardlink has its target's size (the tar header says 0). */
  size: number;
  /** Permission bits (setuid/setgid/sticky included). */
  mode: number;
  /** Symlink target as stored (may be relative); for a hardlink, the absolute path of its target in its layer. */
  linkTarget?: string;
  /** Index into the image's layers (0 = bottom) of the layer this version of the path came from. */
  layerIndex: number;
  layerDiffId: Digest;
  /** Content digests (hex), when the squash was asked for them. */
  sha1?: string;
  sha256?: string;
}

export interface FileTree {
  /** The node at this literal path (no symlink is followed, in the path or at its end). */
  get(path: string): FileNode | undefined;
  /**
   * The node this path leads to, following symlinks (absolute and relative, in parent
   * directories and at the end) without leaving the root; undefined when missing or after
   * MAX_LINK_HOPS links (a loop).
   */
  resolve(path: string): FileNode | undefined;
  /** Regular files and hardlinks of the final filesystem, in path order. */
  files(): IterableIterator<FileNode>;
  /** Every node (directories, symlinks and others too), in path order; the root is not included. */
  nodes(): IterableIterator<FileNode>;
  /** Number of nodes, the root excluded. */
  readonly size: number;
}

/** As Linux's MAXSYMLINKS: a chain longer than this is treated as a loop. */
export const MAX_LINK_HOPS = 40;

interface TreeNode {
  node: FileNode;
  /** Present for directories only. */
  children?: Map<string, TreeNode>;
  /**
   * Layers that held earlier versions of this path with no deletion in between, oldest first:
   * a whiteout, an opaque parent or a replacement by another type starts the history afresh.
   */
  history?: number[];
}

export function isRegular(type: FileType): boolean {
  return type === 'file' || type === 'hardlink';
}

/** The tree squash builds. Its read side is FileTree; the mutators are for squash.ts. */
export class SquashedTree implements FileTree {
  private readonly root: TreeNode;
  private sortedCache: FileNode[] | undefined;

  constructor() {
    this.root = {
      node: { path: '/', type: 'dir', size: 0, mode: 0o755, layerIndex: -1, layerDiffId: '' },
      children: new Map(),
    };
  }

  private lookup(path: string): TreeNode | undefined {
    let cur: TreeNode | undefined = this.root;
    for (const part of pathComponents(path)) {
      cur = cur.children?.get(part);
      if (cur === undefined) return undefined;
    }
    return cur;
  }

  /**
   * The directory at `path`, created (with any missing parents) when absent. A non-directory on
   * the way is replaced, as overlayfs shows a layer's directory over a lower file or symlink.
   */
  ensureDir(path: string, layerIndex: number, layerDiffId: Digest): TreeNode {
    let cur = this.root;
    let curPath = '/';
    for (const part of pathComponents(path)) {
      curPath = joinPath(curPath, part);
      let next = cur.children!.get(part);
      if (next === undefined || next.children === undefined) {
        next = {
          node: { path: curPath, type: 'dir', size: 0, mode: 0o755, layerIndex, layerDiffId },
          children: new Map(),
        };
        cur.children!.set(part, next);
        this.sortedCache = undefined;
      }
      cur = next;
    }
    return cur;
  }

  /** Put `node` at its path: the last entry for a path wins, and a non-directory drops a directory's subtree. */
  set(node: FileNode): void {
    if (node.path === '/') return;
    const parent = this.ensureDir(parentPath(node.path), node.layerIndex, node.layerDiffId);
    const name = baseName(node.path);
    const old = parent.children!.get(name);
    const next: TreeNode = { node };
    if (node.type === 'dir') next.children = old?.children ?? new Map();
    if (old !== undefined && isRegular(old.node.type) && isRegular(node.type)) {
      const history = old.history ?? [];
      next.history = old.node.layerIndex === node.layerIndex ? history : [...history, old.node.layerIndex];
    }
    parent.children!.set(name, next);
    this.sortedCache = undefined;
  }

  /** Remove the literal path and everything below it. */
  remove(path: string): void {
    if (path === '/') return;
    const parent = this.lookup(parentPath(path));
    if (parent?.children?.delete(baseName(path))) this.sortedCache = undefined;
  }

  /** Hide every lower entry of a directory (an opaque whiteout); the directory itself stays. */
  clearChildren(path: string, layerIndex: number, layerDiffId: Digest): void {
    const dir = this.ensureDir(path, layerIndex, layerDiffId);
    if (dir.children!.size > 0) {
      dir.children!.clear();
      this.sortedCache = undefined;
    }
  }

  /** Layers of the earlier versions of a regular file, oldest first (see TreeNode.history). */
  historyOf(path: string): readonly number[] {
    return this.lookup(normalizePath(path))?.history ?? [];
  }

  get(path: string): FileNode | undefined {
    const n = this.lookup(normalizePath(path));
    return n === undefined || n === this.root ? undefined : n.node;
  }

  resolve(path: string): FileNode | undefined {
    const n = this.resolveNode(normalizePath(path));
    return n === undefined || n === this.root ? undefined : n.node;
  }

  /**
   * realpath(3) over the tree: a stack of the directories walked so far; a symlink's target
   * components are pushed in front of the ones still to walk, an absolute target restarts at
   * the root, and `..` at the root stays there (no path ever leaves the image).
   */
  private resolveNode(path: string): TreeNode | undefined {
    const stack: TreeNode[] = [this.root];
    const todo = pathComponents(path).reverse();
    let hops = 0;
    while (todo.length > 0) {
      const part = todo.pop()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const dir = stack[stack.length - 1]!;
      if (dir.children === undefined) return undefined;
      const child = dir.children.get(part);
      if (child === undefined) return undefined;
      if (child.node.type === 'symlink') {
        if (++hops > MAX_LINK_HOPS) return undefined;
        const target = child.node.linkTarget ?? '';
        if (target.startsWith('/')) stack.length = 1;
        const parts = target.split('/');
        for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
        continue;
      }
      stack.push(child);
    }
    return stack[stack.length - 1];
  }

  private sorted(): FileNode[] {
    if (this.sortedCache === undefined) {
      const out: FileNode[] = [];
      const walk = (n: TreeNode) => {
        for (const child of n.children!.values()) {
          out.push(child.node);
          if (child.children !== undefined) walk(child);
        }
      };
      walk(this.root);
      out.sort((a, b) => comparePaths(a.path, b.path));
      this.sortedCache = out;
    }
    return this.sortedCache;
  }

  *files(): IterableIterator<FileNode> {
    for (const n of this.sorted()) if (isRegular(n.type)) yield n;
  }

  nodes(): IterableIterator<FileNode> {
    return this.sorted().values();
  }

  get size(): number {
    return this.sorted().length;
  }
}
