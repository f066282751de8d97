/**
 * Memoises an async computation: the first call starts it, later calls share the same promise. A rejected
 * computation is forgotten so the next call retries (a cancelled first caller does not poison the view).
 */
export function memoAsync<T, A extends unknown[]>(f: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let p: Promise<T> | undefined;
  return (...args: A) => {
    if (p === undefined) {
      const q = f(...args);
      p = q;
      q.catch(() => {
        if (p === q) p = undefined;
      });
    }
    return p;
  };
}
