package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hookflow/hookflow/client"
)

func cmdAgents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return clientGroup(ctx, "agents", agentsSubs(), args, stdout, stderr)
}

func agentsSubs() []clientSub {
	return []clientSub{{"list", agentsList}, {"add", agentsAdd}, {"remove", agentsRemove}}
}

func agentsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("agents list", "[-o json]", true, stdout, stderr)
	if _, code, ok := c.parse(args); !ok {
		return code
	}
	l, err := c.api.ListAgents(ctx)
	return show(c, l, err, func(w io.Writer, l *client.AgentList) {
		rows := make([]string, len(l.Agents))
		for i, a := range l.Agents {
			state := "offline"
			if a.Online {
				state = "online"
			}
			jobs := make([]string, len(a.Jobs))
			for j, job := range a.Jobs {
				jobs[j] = job.Run + " " + job.Job
			}
			rows[i] = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", a.Name, state, strings.Join(a.Labels, ","), orDash(a.Version),
				clientTime(a.LastSeen), orDash(strings.Join(jobs, ", ")))
		}
		printPage(w, "agents", "NAME\tSTATE\tLABELS\tVERSION\tLAST SEEN\tJOBS", rows, "")
	})
}

func agentsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("agents add", "NAME --labels a,b [-o json]", true, stdout, stderr)
	var labels string
	c.fs.StringVar(&labels, "labels", "", "the labels of the jobs the agent may run, comma-separated (required)")
	pos, code, ok := c.parse(args, "NAME")
	if !ok {
		return code
	}
	var list []string
	for l := range strings.SplitSeq(labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			list = append(list, l)
		}
	}
	if len(list) == 0 {
		return usageError(stderr, c.name, fmt.Errorf("give the agent its labels: hookflow agents add %s --labels a,b", pos[0]))
	}
	a, err := c.api.AddAgent(ctx, pos[0], list)
	return show(c, a, err, func(w io.Writer, a *client.AddedAgent) {
		fmt.Fprintf(w, "agent %s added, with labels %s\n", a.Name, strings.Join(a.Labels, ","))
		fmt.Fprintf(w, "its token, shown only now (give it to the agent with --token-file):\n%s\n", a.Token)
	})
}

func agentsRemove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("agents remove", "NAME", false, stdout, stderr)
	pos, code, ok := c.parse(args, "NAME")
	if !ok {
		return code
	}
	if err := c.api.RemoveAgent(ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(stdout, "agent %s removed; its token is refused from now on\n", pos[0])
	return exitOK
}
