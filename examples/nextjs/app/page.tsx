// The API's URL is read at request time (TASK_API_URL), not baked into the build, so one build
// serves any deployment.
import { TasksApp } from "./tasks-app";

export const dynamic = "force-dynamic";

export default function Home() {
  const apiUrl = process.env.TASK_API_URL;
  if (!apiUrl) return <p role="alert">Set TASK_API_URL to the task API&apos;s URL.</p>;
  return <TasksApp apiUrl={apiUrl} />;
}
