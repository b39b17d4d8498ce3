import { VisionError } from '@vision/wire';
import type { ModelRepository } from '@vision/config';
import type { Principal } from '@vision/auth';

/**
 * The models clients may choose, from the site's repository (re-read on SIGHUP). Choices are
 * checked here, before any frame is queued: an unknown id is `E_UNKNOWN_MODEL`, one the token's
 * `models` claim leaves out is `E_FORBIDDEN`.
 */
export class ModelCatalog {
  private repo: ModelRepository;

  constructor(private readonly load: () => ModelRepository) {
    this.repo = load();
  }

  /** Re-reads the repository; a bad file throws and the current catalog stays. */
  reload(): ModelRepository {
    this.repo = this.load();
    return this.repo;
  }

  get defaultId(): string {
    return this.repo.defaultId;
  }

  ids(): string[] {
    return this.repo.models.map((m) => m.id);
  }

  version(id: string): string | undefined {
    return this.repo.models.find((m) => m.id === id)?.version;
  }

  /** The model a choice names (none: the default), if it exists and the principal may use it. */
  resolve(choice: string | null | undefined, principal: Pick<Principal, 'models'>): string {
    const id = choice || this.repo.defaultId;
    if (!this.repo.models.some((m) => m.id === id))
      throw new VisionError('E_UNKNOWN_MODEL', `no model "${id.slice(0, 64)}"`);
    if (principal.models && !principal.models.includes(id))
      throw new VisionError('E_FORBIDDEN', `model ${id} not in the token`);
    return id;
  }
}
