/**
 * Whether `promise` settles (resolves or rejects) within `ms`. For deadlines that are not a Redis call's (a
 * worker's shutdown): the caller decides what a late promise means, no error stands for it.
 */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settled = () => { clearTimeout(timer); resolve(true); };
    promise.then(settled, settled);
  });
}
