// Server code imports the wire format through here too; browser code imports @vision/wire alone.
export * from '@vision/wire';
export * from './jobs';
