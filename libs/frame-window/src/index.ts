export * from './frame-window-keys';
export * from './frame-window-policy';
export * from './frame-window-scripts';
export * from './frame-window-writer';
export * from './frame-window-reader';
