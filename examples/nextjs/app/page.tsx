// The API's URL is read at request time (TASK_API_URL), not baked into the build, so one build
// serves any deployment. `?live=0` turns live updates off (the list then changes only by this
// page's own writes and reloads).
import { TasksApp } from "./tasks-app";

export const dynamic = "force-dynamic";

export default async function Home({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const apiUrl = process.env.TASK_API_URL;
  if (!apiUrl) return <p role="alert">Set TASK_API_URL to the task API&apos;s URL.</p>;
  const live = (await searchParams).live !== "0";
  return <TasksApp apiUrl={apiUrl} live={live} />;
}
