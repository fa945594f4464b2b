import { createMaintenanceActivities, type MaintenanceDeps } from './maintenance';

export type ActivityDeps = MaintenanceDeps;

/** Activities are built from their dependencies, so tests hand in their own database and clock. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createMaintenanceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
